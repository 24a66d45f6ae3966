import { ZipArchive, type ZipEntry, type ZipMember } from "../containers/zip/archive.js";
import { END_SIZE, SIG_END, ZIP_LIMITS, findSignatureBackwards, startsLikeZip } from "../containers/zip/records.js";
import { OPCODES } from "../pickle/opcodes.js";
import { BufferSource, type ByteSource } from "../source/byte-source.js";
import type { Probe } from "../source/probe.js";
import { runPickles } from "./pickle.js";
import {
  STORAGE_SNIFF_BYTES,
  indicateAt,
  isTorchScriptSource,
  isTorchStorage,
  reportTorchScriptSources,
  startsWithContainerMagic,
  storageMayHoldCode,
  torchZipLayout,
  type TorchScriptSource,
  type TorchZipLayout,
} from "./pytorch.js";
import { packageMemberKind, reportPackageSource, torchPackageRoots } from "./torch-package.js";
import type { FormatContext, FormatHandler } from "./types.js";

/**
 * ZIP archives (torch.save checkpoints, TorchScript, torch.package, .npz, .keras, plain zips): the container
 * lists the members; this reader decides what each one is to the loader that opens the archive. Raw tensor
 * storages are skipped unread unless their first bytes could be code, TorchScript and torch.package sources are
 * read as text, and every other member is inspected by its content like a file.
 */

/** TorchScript or torch.package source read per code file. */
const MAX_SOURCE_BYTES = 4 * 1024 * 1024;

export const zipFormat: FormatHandler = {
  name: "zip",
  sniff: (probe: Probe) => zipSniff(probe),
  async inspect(source: ByteSource, ctx: FormatContext, probe: Probe): Promise<boolean> {
    const archive = await ZipArchive.open(source, probe.head, {
      base: ctx.member,
      maxEntries: ctx.limits.maxMembers,
      maxCompressionRatio: ctx.limits.maxCompressionRatio,
    });
    if (!archive) return false;
    ctx.addFormat("zip");
    try {
      // The local-header reads also fetch the first bytes of each member: enough to sniff a storage.
      await archive.survey(STORAGE_SNIFF_BYTES);
      await new ZipMembers(archive, ctx).scan();
    } finally {
      archive.flush((a) => indicateAt(ctx, a.member, a.id, a.message, a.offset));
    }
    return true;
  },
};

function zipSniff(probe: Probe): boolean {
  return startsLikeZip(probe.head) || findSignatureBackwards(probe.tail, SIG_END, probe.tail.length - END_SIZE) >= 0;
}

/** The members of one archive, judged by the layout their names describe. */
class ZipMembers {
  private layout: TorchZipLayout | undefined;
  private packageRoots = new Set<string>();
  private readonly sources: TorchScriptSource[] = [];

  constructor(
    private readonly archive: ZipArchive,
    private readonly ctx: FormatContext,
  ) {}

  async scan(): Promise<void> {
    this.classifyLayout();
    await this.scanEntries();
    reportTorchScriptSources(this.ctx, this.ctx.member, this.sources);
  }

  private classifyLayout(): void {
    const names = this.archive.entries.map((e) => e.name);
    this.layout = torchZipLayout(names);
    if (this.layout?.checkpoint) this.ctx.addFormat("pytorch");
    if (this.layout?.torchScript) this.ctx.addFormat("torchscript");
    this.packageRoots = torchPackageRoots(names);
    if (this.packageRoots.size > 0) this.ctx.addFormat("torch-package");
    const files = names.filter((n) => !n.endsWith("/"));
    if (files.length > 0 && files.every((n) => n.endsWith(".npy"))) this.ctx.addFormat("npz");
  }

  private async scanEntries(): Promise<void> {
    const scanned = new Set<string>();
    for (const entry of this.archive.entries) {
      if (Date.now() > this.ctx.deadline) {
        this.archive.report(
          "scan.limit",
          `time budget of ${this.ctx.limits.fileTimeoutMs} ms exhausted in the zip entries`,
        );
        return;
      }
      if (entry.dataStart === undefined) continue;
      // Entries listed twice over the same bytes are scanned once (the overlap is reported).
      const key = `${entry.dataStart}:${entry.compressedSize}:${entry.method}`;
      if (scanned.has(key)) continue;
      scanned.add(key);
      try {
        await this.scanEntry(entry);
      } catch (e) {
        // A damaged entry must not end the scan of the others (modelscan#354 aborted the loop: fail open).
        this.archive.reportEntry(entry, "zip.corrupt_entry", `entry could not be read: ${(e as Error).message}`);
      }
    }
  }

  private async scanEntry(entry: ZipEntry): Promise<void> {
    const member = this.archive.member(entry);
    if (!member) return;
    const packageKind = packageMemberKind(entry.name, this.packageRoots);
    if (packageKind === "source") {
      const { bytes, truncated } = await member.readBounded(MAX_SOURCE_BYTES, (n) => this.ctx.spendDecompressed(n));
      if (truncated) member.checkDeclaredRatio();
      reportPackageSource(this.ctx, member.path, new TextDecoder("utf-8").decode(bytes), truncated);
      return;
    }
    if (packageKind === "metadata") return member.checkDeclaredRatio(); // text records torch.package reads as text
    if (this.layout && isTorchScriptSource(entry.name, this.layout)) return this.collectSource(member);
    if ((this.layout && isTorchStorage(entry.name, this.layout)) || packageKind === "storage") {
      const head = await member.head(STORAGE_SNIFF_BYTES);
      if (!storageMayHoldCode(head)) return member.checkDeclaredRatio(); // raw tensor bytes: never read
      if (!member.deflated && !startsWithContainerMagic(head) && !(await this.storageRunsCode(member))) return;
    }
    await this.inspectMember(member);
  }

  /** Hands a member to the dispatcher: inflated as a stream, or stored (see `inspectStored`). */
  private async inspectMember(member: ZipMember): Promise<void> {
    if (member.deflated) return this.ctx.inspectStream(member.inflate(), member.path);
    await this.inspectStored(member);
  }

  /**
   * A stored member. A small one, or one that starts like a pickle, is read whole (from the header batch when
   * it is there) so its CRC can be checked; anything else is handed over as a slice of the file, read only as
   * far as the formats that recognise it need.
   */
  private async inspectStored(member: ZipMember): Promise<void> {
    const head = await member.storedHead(1);
    const pickleLike = head.length > 0 && OPCODES[head[0]!] !== undefined;
    if (member.length <= ZIP_LIMITS.headerBatchBytes || (pickleLike && member.length <= ZIP_LIMITS.maxInMemoryMember)) {
      const bytes = await member.readWhole();
      await this.ctx.inspectChild(new BufferSource(bytes, member.path), member.path);
      return;
    }
    await this.ctx.inspectChild(member.slice(), member.path);
  }

  /**
   * A stored storage that starts like a pickle: float data does so about once in 16 000 storages, and the
   * pickle reader would then report a malformed stream. torch could only run code from it if the pickle imports
   * something, so the storage is handed to the formats only when a first pass finds an import or a nested payload.
   */
  private async storageRunsCode(member: ZipMember): Promise<boolean> {
    const scan = await runPickles(member.slice(), this.ctx, 0, { stopAfter: 1 });
    return scan.imports.length > 0 || scan.nested.length > 0;
  }

  /** TorchScript source: decoded and checked as text rather than run through the pickle detector. */
  private async collectSource(member: ZipMember): Promise<void> {
    const head = await member.head(STORAGE_SNIFF_BYTES);
    if (head[0] === 0x80 || storageMayHoldCode(head)) {
      // Binary in a source file is not TorchScript: judge it by its bytes.
      await this.inspectMember(member);
      return;
    }
    const { bytes, truncated } = await member.readBounded(MAX_SOURCE_BYTES, (n) => this.ctx.spendDecompressed(n));
    if (truncated) member.checkDeclaredRatio();
    this.sources.push({ member: member.path, text: new TextDecoder("utf-8").decode(bytes), truncated });
  }
}
