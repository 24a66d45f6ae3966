import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";

// The format registry imports a reader only when its probe claims a file. These tests run the CLI's modules as tsc
// wrote them (one file per engine module, so each reader's loading is visible) with a module-load recorder and
// check which engine readers (and their npm dependencies) a scan brought in. The bundled CLI that bin/modelvet.js
// runs keeps these imports dynamic; packages/cli/test/startup-modules.test.ts checks what it loads.

const ROOT = join(import.meta.dirname, "..", "..", "..");
const RECORDER = join(import.meta.dirname, "support", "module-log.mjs");
const work = mkdtempSync(join(tmpdir(), "modelvet-lazy-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs packages/cli/dist/main.js as bin/modelvet.js runs its bundle: `main(process.argv)`. */
const CLI = join(work, "modelvet-unbundled.mjs");
writeFileSync(
  CLI,
  `import { main } from ${JSON.stringify(pathToFileURL(join(ROOT, "packages", "cli", "dist", "main.js")).href)};\n` +
    "process.exitCode = await main(process.argv);\n",
);

/** Readers whose modules a scan of plain weights must not load. */
const HEAVY = {
  yaml: /engine\/dist\/formats\/yaml\.js$|node_modules\/yaml\//,
  jinja: /engine\/dist\/formats\/(jinja|template-content|template-analysis)\.js$|@huggingface\/jinja/,
  protobuf: /engine\/dist\/formats\/(protobuf|onnx|savedmodel)\.js$/,
  decompressors: /engine\/dist\/containers\/(compressed|bz2|xz|lzma|lz4)\.js$|unbzip2-stream/,
  sevenZip: /engine\/dist\/containers\/sevenzip(\/header)?\.js$/,
  keras: /engine\/dist\/formats\/(keras|hdf5|marshal)\.js$|jsfive/,
};

let n = 0;
/** Scans one file with the built CLI and returns the module URLs the process loaded. */
function loadedByScan(name: string, bytes: Uint8Array): string[] {
  const file = join(work, name);
  writeFileSync(file, bytes);
  const log = join(work, `modules-${++n}.log`);
  const run = spawnSync(process.execPath, ["--import", RECORDER, CLI, "scan", "--format", "json", "--no-cache", file], {
    encoding: "utf8",
    env: { ...process.env, MODULE_LOG: log },
  });
  expect(run.stdout).toContain('"file_security_reports"');
  return readFileSync(log, "utf8").split("\n").filter(Boolean);
}

function safetensors(): Uint8Array {
  const header = Buffer.from(JSON.stringify({ w: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, Buffer.alloc(8)]);
}

/** `pickle.dumps({'a': 1}, protocol=2)`. */
const SMALL_PICKLE = Buffer.from("80027d710058010000006171014b01732e", "hex");

describe("format readers load only when their probe claims a file", () => {
  it("a safetensors scan loads the safetensors reader and none of the heavy ones", () => {
    const loaded = loadedByScan("model.safetensors", safetensors());
    expect(loaded.some((url) => url.endsWith("engine/dist/formats/safetensors.js"))).toBe(true);
    for (const [what, pattern] of Object.entries(HEAVY))
      expect(
        loaded.filter((url) => pattern.test(url)),
        what,
      ).toEqual([]);
  });

  it("a plain pickle scan loads the pickle reader but not YAML, Jinja, protobuf, 7z or the decompressors", () => {
    const loaded = loadedByScan("model.pkl", SMALL_PICKLE);
    expect(loaded.some((url) => url.endsWith("engine/dist/formats/pickle.js"))).toBe(true);
    for (const what of ["yaml", "jinja", "protobuf", "decompressors", "sevenZip"] as const)
      expect(
        loaded.filter((url) => HEAVY[what].test(url)),
        what,
      ).toEqual([]);
  });

  it("a .yaml file brings in the YAML reader and its parser", () => {
    const loaded = loadedByScan("hparams.yaml", Buffer.from("lr: 0.1\nlayers: [1, 2]\n"));
    expect(loaded.filter((url) => HEAVY.yaml.test(url)).length).toBeGreaterThanOrEqual(2);
  });

  it("a gzip file brings in the decompressors and then the reader of what it holds", () => {
    const loaded = loadedByScan("model.pkl.gz", gzipSync(SMALL_PICKLE));
    expect(loaded.some((url) => url.endsWith("engine/dist/containers/compressed.js"))).toBe(true);
    expect(loaded.some((url) => url.endsWith("engine/dist/formats/pickle.js"))).toBe(true);
    expect(loaded.filter((url) => HEAVY.sevenZip.test(url))).toEqual([]);
  });
});
