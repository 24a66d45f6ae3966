import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { HttpRangeSource, parseTarget, scanTargets, ScanError, type ScanReport } from "../src/index.js";
import { FakeHub, smallFile, sparseFile } from "./support/hub-server.js";
import { torchCheckpoint } from "./support/torch-zip.js";
import { fixture } from "./helpers.js";

const GiB = 1024 ** 3;
const TOKEN = "hf_test_private_token";
const hub = new FakeHub();
const SHA = "a".repeat(40);
const OLD_SHA = "b".repeat(40);
const PRIVATE_SHA = "c".repeat(40);
const BIG_SHA = "d".repeat(40);
const FORMATS_SHA = "9".repeat(40);

beforeAll(async () => {
  await hub.start();
  hub.pageSize = 2; // exercise the Link pagination
  hub.addRepo({
    id: "acme/tiny",
    refs: { main: SHA, v1: OLD_SHA },
    commits: {
      [SHA]: [
        smallFile("README.md", Buffer.from("# tiny\n")),
        smallFile("config.json", Buffer.from('{"model_type": "tiny"}')),
        smallFile("model.pkl", fixture("adversarial/getattr-import-chain.pkl"), {
          lfs: true,
          security: {
            safe: false,
            pickleImportScan: {
              highestSafetyLevel: "dangerous",
              imports: [{ module: "builtins", name: "getattr", safety: "dangerous" }],
            },
          },
        }),
        smallFile("sub/dir/benign.pkl", fixture("adversarial/copyreg-reconstructor-p2.pkl"), {
          security: { safe: true, pickleImportScan: { highestSafetyLevel: "innocuous", imports: [] } },
        }),
      ],
      [OLD_SHA]: [smallFile("model.pkl", fixture("adversarial/string-mentions-only.pkl"))],
    },
  });
  hub.addRepo({
    id: "acme/secret",
    private: true,
    token: TOKEN,
    refs: { main: PRIVATE_SHA },
    commits: { [PRIVATE_SHA]: [smallFile("weights.pkl", fixture("adversarial/o6-inst.pkl"), { lfs: true })] },
  });
  hub.addRepo({
    id: "acme/gated",
    gated: true,
    token: TOKEN,
    refs: { main: SHA },
    commits: { [SHA]: [smallFile("a.pkl", fixture("adversarial/o6-inst.pkl"))] },
  });
  const checkpoint = torchCheckpoint(3 * GiB, 200, "echo modelvet-test");
  hub.addRepo({
    id: "acme/big",
    refs: { main: BIG_SHA },
    commits: {
      [BIG_SHA]: [
        sparseFile("pytorch_model.bin", checkpoint.size, checkpoint.segments),
        smallFile("config.json", Buffer.from("{}")),
      ],
    },
  });
});

beforeAll(() => {
  // Formats read remotely: a GGUF whose chat template injects, clean GGUF and safetensors files (LFS-backed like
  // a real repo), and the repo-level files: a tokenizer_config.json template, an auto_map config, Python beside them.
  const formats = join(import.meta.dirname, "fixtures", "formats");
  hub.addRepo({
    id: "acme/formats",
    refs: { main: FORMATS_SHA },
    commits: {
      [FORMATS_SHA]: [
        smallFile("model.gguf", readFileSync(join(formats, "gguf", "ssti_obfuscated.gguf")), { lfs: true }),
        smallFile("chat.gguf", readFileSync(join(formats, "gguf", "llama3_chat.gguf")), { lfs: true }),
        smallFile("model.safetensors", readFileSync(join(formats, "safetensors", "pt_metadata.safetensors")), {
          lfs: true,
        }),
        smallFile("tokenizer_config.json", readFileSync(join(formats, "remote", "tokenizer_config.json"))),
        smallFile("config.json", readFileSync(join(formats, "remote", "config.json"))),
        smallFile("modeling_my.py", readFileSync(join(formats, "remote", "modeling_my.py"))),
      ],
    },
  });
});

afterAll(() => hub.stop());
beforeEach(() => hub.resetStats());

const scan = (targets: string[], extra: Parameters<typeof scanTargets>[1] = {}): Promise<ScanReport> =>
  scanTargets(targets, { hub: { endpoint: hub.hubUrl }, cacheDir: false, ...extra });

const globals = (report: ScanReport): string[] =>
  report.file_security_reports.flatMap((f) =>
    f.unsafe_dependencies.map((d) => (d.name ? `${d.module}.${d.name}` : d.module)),
  );

describe("scan targets", () => {
  it("reads hf:// ids, revisions and Hub URLs", () => {
    expect(parseTarget("hf://acme/tiny")).toMatchObject({
      kind: "hub",
      repo: "acme/tiny",
      revision: "main",
      repoType: "model",
    });
    expect(parseTarget("hf://acme/tiny@v1.0")).toMatchObject({ repo: "acme/tiny", revision: "v1.0" });
    expect(parseTarget("hf://gpt2")).toMatchObject({ repo: "gpt2" });
    expect(parseTarget("hf://datasets/acme/data@main")).toMatchObject({ repoType: "dataset", repo: "acme/data" });
    expect(parseTarget("https://huggingface.co/acme/tiny")).toMatchObject({ repo: "acme/tiny", revision: "main" });
    expect(parseTarget("https://huggingface.co/acme/tiny/tree/v2/sub/dir")).toMatchObject({
      revision: "v2",
      path: "sub/dir",
    });
    expect(parseTarget("https://huggingface.co/acme/tiny/blob/main/model.pkl")).toMatchObject({ path: "model.pkl" });
    expect(parseTarget("hf://acme/tiny@main", { revision: "v1" })).toMatchObject({ revision: "v1" });
    expect(parseTarget("http://127.0.0.1:9/acme/tiny/tree/x", { endpoint: "http://127.0.0.1:9" })).toMatchObject({
      repo: "acme/tiny",
      revision: "x",
    });
    expect(parseTarget("./models/x.pt")).toEqual({ kind: "local", path: "./models/x.pt" });
    expect(() => parseTarget("hf://a b/c")).toThrow(/repo id/);
    expect(() => parseTarget("https://example.com/x")).toThrow(/Hugging Face/);
  });
});

describe("scanning a Hub repo", () => {
  it("pins the revision to a commit, lists every page and judges files by content", async () => {
    const report = await scan(["hf://acme/tiny"]);
    expect(report.targets).toEqual([
      expect.objectContaining({ repo: "acme/tiny", revision: "main", commit: SHA, files: 4 }),
    ]);
    expect(report.severity).toBe(3);
    expect(globals(report)).toContain("os.system");
    expect(report.scanned_files.map((f) => f.path)).toContain(`hf://acme/tiny@${SHA.slice(0, 12)}/sub/dir/benign.pkl`);
    // Every read was made at the commit sha, never at "main".
    const reads = hub.stats.requests.filter((r) => r.url.includes("/resolve/"));
    expect(reads.length).toBeGreaterThan(0);
    for (const r of reads) expect(r.url).toContain(`/resolve/${SHA}/`);
    expect(hub.stats.requests.filter((r) => r.url.includes("/tree/")).length).toBeGreaterThan(1); // paginated
  });

  it("shows the Hub's own verdict next to ours", async () => {
    const report = await scan(["hf://acme/tiny"]);
    const model = report.scanned_files.find((f) => f.path.endsWith("/model.pkl"))!;
    expect(model.hub_verdict).toEqual({ level: "dangerous", severity: 3, safe: false, agrees: true });
    const benign = report.scanned_files.find((f) => f.path.endsWith("/benign.pkl"))!;
    expect(benign.hub_verdict).toMatchObject({ level: "innocuous", agrees: true });
  });

  it("scans another revision and a folder of the repo", async () => {
    const old = await scan(["hf://acme/tiny@v1"]);
    expect(old.targets![0]!.commit).toBe(OLD_SHA);
    expect(old.severity).toBe(1);
    const folder = await scan([`${hub.hubUrl}/acme/tiny/tree/main/sub`]);
    expect(folder.scanned_files).toHaveLength(1);
  });

  it("fails clearly for a missing repo or revision", async () => {
    await expect(scan(["hf://acme/nope"])).rejects.toThrow(ScanError);
    await expect(scan(["hf://acme/nope"])).rejects.toThrow(
      /hf:\/\/acme\/nope@main: not found or not authorised \(HTTP 401\)/,
    );
    await expect(scan(["hf://acme/tiny@no-such-branch"])).rejects.toThrow(/not found \(HTTP 404\)/);
  });

  it("needs a token for a private repo, and never sends it to the storage host", async () => {
    await expect(scan(["hf://acme/secret"])).rejects.toThrow(/set HF_TOKEN/);
    await expect(scan(["hf://acme/secret"], { hub: { endpoint: hub.hubUrl, token: "hf_wrong" } })).rejects.toThrow(
      /token given has no access/,
    );
    hub.resetStats();
    const report = await scan(["hf://acme/secret"], { hub: { endpoint: hub.hubUrl, token: TOKEN } });
    expect(report.severity).toBe(3);
    const storage = hub.stats.requests.filter((r) => r.origin === "storage");
    expect(storage.length).toBeGreaterThan(0);
    expect(storage.every((r) => !r.auth)).toBe(true);
    expect(hub.stats.requests.filter((r) => r.origin === "hub").every((r) => r.auth)).toBe(true);
  });

  it("explains a gated repo", async () => {
    await expect(scan(["hf://acme/gated"])).rejects.toThrow(/gated/);
  });

  it("grades a 3 GiB checkpoint with a payload Alert while transferring under 1 MiB", async () => {
    const report = await scan(["hf://acme/big"]);
    expect(report.severity).toBe(3);
    const file = report.file_security_reports.find((f) => f.path.endsWith("pytorch_model.bin"))!;
    expect(file.unsafe_dependencies.find((d) => d.module === "posix" && d.name === "system")?.call).toBe(
      "posix.system('echo modelvet-test')",
    );
    expect(report.stats.bytes_total).toBeGreaterThan(3 * GiB);
    expect(hub.stats.bytesSent).toBeLessThan(1024 * 1024);
  });

  it("reads nothing but the listing the second time (content-addressed cache)", async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "modelvet-cache-"));
    const first = await scan(["hf://acme/tiny"], { cacheDir });
    expect(first.stats.cached_files).toBe(0);
    hub.resetStats();
    const second = await scan(["hf://acme/tiny"], { cacheDir });
    expect(second.stats.cached_files).toBe(4);
    expect(second.stats.bytes_read).toBe(0);
    expect(second.severity).toBe(first.severity);
    expect(hub.stats.requests.every((r) => r.url.startsWith("/api/"))).toBe(true);
    expect(second.file_security_reports).toEqual(first.file_security_reports);
  });
});

describe("header-only formats over the Hub", () => {
  it("judges GGUF chat templates and safetensors headers read remotely", async () => {
    const report = await scan(["hf://acme/formats"]);
    const bySuffix = (suffix: string) => report.scanned_files.find((f) => f.path.endsWith(suffix))!;
    expect(bySuffix("/model.gguf")).toMatchObject({ severity: 3, formats: ["gguf"] });
    expect(bySuffix("/chat.gguf")).toMatchObject({ severity: 1, formats: ["gguf"] });
    expect(bySuffix("/model.safetensors")).toMatchObject({ severity: 1, formats: ["safetensors"] });
    const findings = report.file_security_reports.find((f) => f.path.endsWith("/model.gguf"))!.indicators;
    expect(findings.some((i) => i.id.startsWith("gguf.chat_template.") && i.severity === 3)).toBe(true);
    const ids = (suffix: string): string[] =>
      report.file_security_reports.find((f) => f.path.endsWith(suffix))?.indicators.map((i) => i.id) ?? [];
    expect(bySuffix("/tokenizer_config.json").severity).toBe(3);
    expect(ids("/config.json")).toContain("remote_code.auto_map");
    expect(ids("/modeling_my.py")).toContain("remote_code.python_file");
  });
});

describe("HTTP range reads", () => {
  async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; close: () => void }> {
    const server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/f`, close: () => server.close() };
  }

  it("refuses a server that ignores Range instead of downloading the file", async () => {
    const server = await serve((_req, res) => res.end(Buffer.alloc(10_000)));
    const source = new HttpRangeSource(server.url, 10_000, "f");
    await expect(source.read(100, 10)).rejects.toThrow(/ignored the Range request/);
    server.close();
  });

  it("notices a file that changes between reads", async () => {
    let etag = 1;
    const server = await serve((req, res) => {
      const [, a, b] = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? "")!;
      res.writeHead(206, { "Content-Range": `bytes ${a}-${b}/100`, ETag: `"v${etag++}"` });
      res.end(Buffer.alloc(Number(b) - Number(a) + 1));
    });
    const source = new HttpRangeSource(server.url, 100, "f", { retries: 0 });
    await source.read(0, 10);
    await expect(source.read(10, 10)).rejects.toThrow(/changed during the scan/);
    server.close();
  });

  it("retries 503 with backoff, then succeeds", async () => {
    let calls = 0;
    const server = await serve((req, res) => {
      if (++calls < 3) return res.writeHead(503, { "Retry-After": "0" }).end();
      res.writeHead(206, { "Content-Range": "bytes 0-3/4" }).end(Buffer.from("abcd"));
    });
    const source = new HttpRangeSource(server.url, 4, "f");
    expect(Buffer.from(await source.read(0, 4)).toString()).toBe("abcd");
    expect(calls).toBe(3);
    server.close();
  });
});

describe("re-judging stored inventories", () => {
  it("gives a new rules pack's verdict without reading the model", async () => {
    const { scanTargetsWithInventories, rejudgeReport, Classifier, loadBuiltinPack } = await import("../src/index.js");
    const { report, inventories } = await scanTargetsWithInventories(["hf://acme/tiny"], {
      hub: { endpoint: hub.hubUrl },
      cacheDir: false,
    });
    expect(report.severity).toBe(3);
    hub.resetStats();
    const pack = await loadBuiltinPack();
    const lenient = new Classifier({
      ...pack,
      version: "test-lenient",
      rules: pack.rules.filter((r) => r.severity !== 3),
    });
    const again = rejudgeReport(report, inventories, lenient);
    expect(hub.stats.requests).toEqual([]);
    expect(again.rules_version).toBe("test-lenient");
    expect(again.severity).toBe(2); // the denied names are now merely unlisted
    expect(again.targets).toEqual(report.targets);
    expect(again.scanned_files.find((f) => f.path.endsWith("/model.pkl"))?.hub_verdict?.agrees).toBe(false);
  });
});
