import type { FileInventory, InventoryImport } from "./inventory.js";
import type { PickleScan } from "./pickle/machine.js";
import { REGISTRY, readersOf } from "./formats/registry.js";
import { checkNameClaim } from "./formats/claims.js";
import type { FormatContext, ScanLimits } from "./formats/types.js";
import { probe } from "./source/probe.js";
import { BufferSource, type ByteSource } from "./source/byte-source.js";
import { concatBytes } from "./source/bytes.js";
import { ByteReader, StreamChunks } from "./source/byte-reader.js";
import { scanPickles } from "./pickle/machine.js";
import { OPCODES } from "./pickle/opcodes.js";

export { DEFAULT_SCAN_LIMITS, type ScanLimits } from "./formats/types.js";
export { probe, type Probe } from "./source/probe.js";

/** Collects what one file's formats find, with the member path of nested sources. */
export class InspectContext implements FormatContext {
  readonly deadline: number;

  constructor(
    readonly inventory: FileInventory,
    readonly limits: ScanLimits,
    readonly member = "",
    readonly depth = 0,
    deadline?: number,
    private readonly shared: { members: number; decompressed: number } = { members: 0, decompressed: 0 },
  ) {
    this.deadline = deadline ?? Date.now() + limits.fileTimeoutMs;
  }

  indicate(id: string, message: string, offset?: number): void {
    this.inventory.indicators.push({ id, message, member: this.member, ...(offset !== undefined ? { offset } : {}) });
  }

  addFormat(name: string): void {
    if (!this.inventory.formats.includes(name)) this.inventory.formats.push(name);
  }

  addPickleScan(scan: PickleScan): void {
    for (const imp of scan.imports) {
      const record: InventoryImport = {
        module: imp.module,
        name: imp.name,
        member: this.member,
        offsets: imp.offsets,
        opcode: imp.opcode,
        calls: imp.calls,
        ...(imp.via ? { via: imp.via } : {}),
        ...(imp.boundMethods ? { boundMethods: imp.boundMethods } : {}),
        ...(imp.nestedLoads ? { nestedLoads: imp.nestedLoads } : {}),
        ...(imp.partialNew ? { partialNew: imp.partialNew } : {}),
      };
      this.inventory.imports.push(record);
    }
    for (const ind of scan.indicators) this.indicate(ind.id, ind.message, ind.offset);
  }

  /** Counts decompressed bytes against the file's budget; false when the budget is spent. */
  spendDecompressed(bytes: number): boolean {
    this.shared.decompressed += bytes;
    return this.shared.decompressed <= this.limits.maxDecompressedBytes;
  }

  /**
   * Scans a decompressed stream (a deflated ZIP member, a gzip/xz/bz2/lz4 wrapper). When it fits in
   * `maxBuffered` bytes it is collected and inspected like any file (every format, by content); a larger stream
   * is run through the pickle machine as it arrives, since only a pickle could still act on it, and the rest is
   * reported as not inspected. Every byte counts against the file's decompression budget.
   */
  async inspectStream(
    chunks: AsyncIterable<Uint8Array>,
    member: string,
    maxBuffered = 64 * 1024 * 1024,
  ): Promise<void> {
    const iterator = chunks[Symbol.asyncIterator]();
    const kept: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const step = await iterator.next();
      if (step.done) {
        await this.inspectChild(new BufferSource(concatBytes(...kept), member), member);
        return;
      }
      total += step.value.length;
      if (!(await this.withinDecompressionBudget(step.value.length, member, iterator))) return;
      kept.push(step.value);
      if (total > maxBuffered) break;
    }
    // Too large to hold: stream the rest through the pickle machine.
    const head = concatBytes(...kept);
    if (OPCODES[head[0]!] === undefined) {
      this.indicate(
        "scan.limit",
        `decompressed ${member || "stream"} is larger than ${maxBuffered} bytes and not a pickle; not inspected further`,
      );
      await iterator.return?.();
      return;
    }
    const rest = async function* (this: InspectContext): AsyncGenerator<Uint8Array> {
      yield head;
      for (;;) {
        const step = await iterator.next();
        if (step.done) return;
        if (!(await this.withinDecompressionBudget(step.value.length, member, iterator))) return;
        yield step.value;
      }
    }.call(this);
    const child = this.child(member);
    const scan = await scanPickles(new ByteReader(new StreamChunks(rest)), {
      limits: { ...this.limits.pickle, deadline: this.deadline },
    });
    child.addPickleScan(scan);
    child.addFormat("pickle");
  }

  /** Spends decompressed bytes; past the budget, reports it and stops the decoder. */
  private async withinDecompressionBudget(
    bytes: number,
    member: string,
    decoder: AsyncIterator<Uint8Array>,
  ): Promise<boolean> {
    if (this.spendDecompressed(bytes)) return true;
    this.indicate(
      "scan.limit",
      `decompressed data of ${member || "the file"} exceeds the per-file limit maxDecompressedBytes (${this.limits.maxDecompressedBytes} bytes)`,
    );
    await decoder.return?.();
    return false;
  }

  /** A context for a member of the current source, sharing this file's budgets and deadline. */
  child(member: string): InspectContext {
    return new InspectContext(this.inventory, this.limits, member, this.depth + 1, this.deadline, this.shared);
  }

  /** Scans a nested source (a container member, a decompressed stream, a nested pickle) by its content. */
  async inspectChild(source: ByteSource, member: string): Promise<void> {
    if (this.depth + 1 > this.limits.maxDepth) {
      this.indicate("scan.limit", `nesting deeper than ${this.limits.maxDepth} at ${member}`);
      return;
    }
    if (++this.shared.members > this.limits.maxMembers) {
      if (this.shared.members === this.limits.maxMembers + 1)
        this.indicate("scan.limit", `more than ${this.limits.maxMembers} members`);
      return;
    }
    await inspectSource(source, this.child(member));
  }
}

/**
 * The one dispatcher: probes the source, loads and runs every reader whose registry probe and own sniffer accept
 * it (in registry order), then checks what the name claims. Returns the formats that recognised it.
 */
export async function inspectSource(source: ByteSource, ctx: InspectContext): Promise<string[]> {
  const recognised: string[] = [];
  if (source.size === 0) return recognised;
  const bytes = await probe(source);
  const name = ctx.member || ctx.inventory.path;
  const rejected = new Set<string>();
  entries: for (const entry of REGISTRY) {
    if (!entry.claims(bytes, name)) continue;
    for (const format of await readersOf(entry)) {
      if (!format.sniff(bytes)) continue;
      if (Date.now() > ctx.deadline) {
        ctx.indicate("scan.limit", `time budget of ${ctx.limits.fileTimeoutMs} ms exhausted`);
        break entries;
      }
      const findingsBefore = ctx.inventory.indicators.length;
      if (await format.inspect(source, ctx, bytes)) {
        recognised.push(format.name);
        ctx.addFormat(format.name);
        // The shortcut holds only for a file its format read fully and validly: whatever it reported, the other
        // readers a loader could apply (torch.load on a broken .safetensors) still run.
        if (format.exclusive && ctx.inventory.indicators.length === findingsBefore) break entries;
      } else rejected.add(format.name);
    }
  }
  checkNameClaim(ctx.member || source.name, ctx, recognised, rejected);
  return recognised;
}
