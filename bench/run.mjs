#!/usr/bin/env node
// Benchmarks: generates large inputs under bench/work/, measures modelvet against a reference where one exists,
// and writes bench/RESULTS.md and bench/results.json. Run with `npm run bench` (builds first).
// Reference timings need Debian's /usr/bin/python3 (standard library only).
import { spawnSync } from "node:child_process";
import {
  mkdirSync,
  writeFileSync,
  existsSync,
  openSync,
  writeSync,
  closeSync,
  ftruncateSync,
  statSync,
  readFileSync,
} from "node:fs";
import { cpus, totalmem, platform, release } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import * as ratios from "./ratios.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const work = join(here, "work");
mkdirSync(work, { recursive: true });
const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const modelvet = join(here, "..", "packages", "cli", "bin", "modelvet.js");
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

const results = [];
const record = (row) => {
  results.push(row);
  console.log(JSON.stringify(row));
};

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 28, ...options });
  if (r.status !== 0 && !options.allowFail) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr || r.stdout}`);
  return r;
}

/** Runs a measurement script in a fresh Node process and returns its JSON line (timings and peak RSS). */
function measure(args) {
  const r = run(process.execPath, [join(here, "measure.mjs"), ...args]);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

function best(n, fn) {
  let out;
  for (let i = 0; i < n; i++) {
    const r = fn();
    if (!out || r.ms < out.ms) out = r;
  }
  return out;
}

// ---- 1. Opcode-dense pickle (~60 MB): modelvet vs pickletools.genops --------------------------------------------
function opcodeDense() {
  const file = join(work, "opcode-dense.pkl");
  if (!existsSync(file))
    run(python, [
      "-c",
      `
import pickle
rows = [(i, i * 0.5, "k%d" % (i % 997), None, True, [i, -i], {"a": i}) for i in range(1_000_000)]
with open(${JSON.stringify(file)}, "wb") as f:
    pickle.dump(rows, f, protocol=2)
`,
    ]);
  const size = statSync(file).size;
  const genops = ratios.genopsTime({ python, run, best }, file);
  const ours = best(3, () => measure(["inspect", file]));
  record({
    case: "opcode-dense pickle vs pickletools.genops",
    file_mb: +(size / 1e6).toFixed(1),
    opcodes: genops.ops,
    genops_ms: Math.round(genops.ms),
    modelvet_ms: Math.round(ours.ms),
    modelvet_mb_per_s: +(size / 1e6 / (ours.ms / 1000)).toFixed(1),
    speedup: +(genops.ms / ours.ms).toFixed(2),
    modelvet_peak_rss_mb: ours.rss_mb,
    goal: "at least 3x faster than genops",
    met: genops.ms / ours.ms >= 3,
  });
}

// ---- 2. A 2 GiB pickle of large byte strings: peak memory ---------------------------------------------------------
function bigBytes() {
  const file = join(work, "big-bytes-2g.pkl");
  const chunk = 64 * MiB;
  const count = 32; // 32 × 64 MiB = 2 GiB of payload
  if (!existsSync(file) || statSync(file).size < 2 * GiB) {
    // PROTO 4, EMPTY_LIST, MARK, count × BINBYTES8 <64 MiB>, APPENDS, STOP. Payload bytes are left as holes.
    const fd = openSync(file, "w");
    let at = 0;
    const put = (bytes) => {
      writeSync(fd, bytes, 0, bytes.length, at);
      at += bytes.length;
    };
    put(Buffer.from([0x80, 0x04, 0x5d, 0x28]));
    for (let i = 0; i < count; i++) {
      const header = Buffer.alloc(9);
      header[0] = 0x8e;
      header.writeBigUInt64LE(BigInt(chunk), 1);
      put(header);
      at += chunk;
    }
    put(Buffer.from([0x65, 0x2e]));
    ftruncateSync(fd, at);
    closeSync(fd);
  }
  const size = statSync(file).size;
  const ours = measure(["scan", file]);
  record({
    case: "2 GiB pickle of large byte strings",
    file_gib: +(size / GiB).toFixed(2),
    modelvet_ms: Math.round(ours.ms),
    bytes_read: ours.bytes_read,
    peak_rss_mb: ours.rss_mb,
    severity: ours.severity,
    goal: "peak memory at most 200 MB",
    met: ours.rss_mb <= 200,
  });
}

// ---- 3. A 3 GiB checkpoint laid out like torch.save: bytes read, and time against `cat` -------------------------
async function checkpoint3g() {
  const { torchCheckpoint } = await import("../packages/engine/test/support/torch-zip.ts");
  const layout = torchCheckpoint(3 * GiB, 300);
  for (const dense of [false, true]) {
    const file = join(work, dense ? "checkpoint-3g-dense.pt" : "checkpoint-3g.pt");
    if (!existsSync(file) || statSync(file).size !== layout.size) (dense ? writeDense : writeSparse)(file, layout);
    // Cold: the page cache is dropped before each run (needs root; otherwise both run warm and the row says so).
    const cold = dropCaches();
    const ours = measure(["scan", file]);
    dropCaches();
    const t = performance.now();
    run("sh", ["-c", `cat ${JSON.stringify(file)} > /dev/null`]);
    const catMs = performance.now() - t;
    record({
      case: `3 GiB checkpoint laid out like torch.save, 300 ${dense ? "storages of real bytes" : "sparse storages"}`,
      page_cache: cold ? "dropped before each run" : "warm (could not drop)",
      file_gib: +(layout.size / GiB).toFixed(2),
      bytes_read: ours.bytes_read,
      modelvet_ms: Math.round(ours.ms),
      cat_ms: Math.round(catMs),
      fraction_of_cat_time: +(ours.ms / catMs).toFixed(4),
      severity: ours.severity,
      goal: "at most 1 MiB read, under a fifth of cat's time",
      met: ours.bytes_read <= MiB && ours.ms < catMs / 5,
    });
  }
}

function dropCaches() {
  return spawnSync("sh", ["-c", "sync && echo 3 > /proc/sys/vm/drop_caches"], { stdio: "ignore" }).status === 0;
}

/** The same layout with every storage filled (a repeating non-zero pattern), as a real checkpoint has. */
function writeDense(file, layout) {
  const fd = openSync(file, "w");
  const pattern = Buffer.alloc(8 * MiB);
  for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 131 + 7) & 0xff;
  for (let at = 0; at < layout.size; at += pattern.length)
    writeSync(fd, pattern, 0, Math.min(pattern.length, layout.size - at), at);
  for (const seg of layout.segments) writeSync(fd, seg.bytes, 0, seg.bytes.length, seg.offset);
  closeSync(fd);
}

function writeSparse(file, layout) {
  const fd = openSync(file, "w");
  for (const seg of layout.segments) writeSync(fd, seg.bytes, 0, seg.bytes.length, seg.offset);
  ftruncateSync(fd, layout.size);
  closeSync(fd);
}

// ---- 4. A folder of 2,000 small pickles: files per second -------------------------------------------------------
function smallPickles() {
  const dir = join(work, "small-pickles");
  if (!existsSync(join(dir, "1999.pkl"))) {
    mkdirSync(dir, { recursive: true });
    run(python, [
      "-c",
      `
import pickle, collections, sys
d = sys.argv[1]
for i in range(2000):
    obj = {"weights": [float(j) for j in range(50)], "meta": collections.OrderedDict(name="m%d" % i, version=i)}
    with open("%s/%d.pkl" % (d, i), "wb") as f:
        pickle.dump(obj, f, protocol=i % 6)
`,
      dir,
    ]);
  }
  const ours = best(3, () => measure(["scan", dir]));
  record({
    case: "folder of 2,000 small pickles",
    files: ours.files,
    modelvet_ms: Math.round(ours.ms),
    files_per_second: Math.round(ours.files / (ours.ms / 1000)),
    peak_rss_mb: ours.rss_mb,
  });
}

// ---- 5. Compressed joblib dumps: MB/s of decompressed stream ----------------------------------------------------
function compressedJoblib() {
  const dir = join(work, "joblib");
  mkdirSync(dir, { recursive: true });
  const methods = ["none", "zlib", "gzip", "bz2", "lzma", "xz", "lz4"];
  const probe = run(python, ["-c", "import joblib, numpy, lz4"], { allowFail: true });
  if (probe.status !== 0) {
    record({ case: "compressed joblib", skipped: "needs Debian python3-joblib, python3-numpy, python3-lz4" });
    return;
  }
  if (!existsSync(join(dir, "model-lz4.joblib")))
    run(python, [
      "-c",
      `
import joblib, numpy, sys, collections
rng = numpy.random.default_rng(0)
model = {"coef": rng.standard_normal((2000, 2000)), "classes": numpy.arange(1000), "tree": [collections.OrderedDict(a=i, b=[i] * 10) for i in range(20000)]}
for m in ${JSON.stringify(methods)}:
    joblib.dump(model, "%s/model-%s.joblib" % (sys.argv[1], m), compress=(m, 3) if m != "none" else 0)
`,
      dir,
    ]);
  const raw = statSync(join(dir, "model-none.joblib")).size;
  for (const m of methods) {
    const file = join(dir, `model-${m}.joblib`);
    const ours = best(m === "bz2" || m === "lzma" || m === "xz" ? 1 : 3, () => measure(["scan", file]));
    record({
      case: `joblib ${m}`,
      file_mb: +(statSync(file).size / 1e6).toFixed(1),
      decompressed_mb: +(raw / 1e6).toFixed(1),
      modelvet_ms: Math.round(ours.ms),
      mb_per_s: +(raw / 1e6 / (ours.ms / 1000)).toFixed(1),
      severity: ours.severity,
    });
  }
}

// ---- 6. A 3 GiB checkpoint on a Hub-compatible server: transferred bytes, cold and cached -------------------------
async function hubRepo() {
  const r = run(process.execPath, ["--import", "tsx", join(here, "hub.ts")]);
  for (const line of r.stdout.trim().split("\n")) record(JSON.parse(line));
}

// ---- 7. Multi-GB safetensors and GGUF files: bytes read --------------------------------------------------------
function safetensors3g() {
  const file = join(work, "model-3g.safetensors");
  const count = 96;
  const each = 32 * MiB;
  const header = { __metadata__: { format: "pt" } };
  for (let i = 0; i < count; i++)
    header[`model.layers.${i}.weight`] = { dtype: "F32", shape: [each / 4], data_offsets: [i * each, (i + 1) * each] };
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const size = 8 + json.length + count * each;
  writeSparse(file, {
    size,
    segments: [
      { offset: 0, bytes: length },
      { offset: 8, bytes: json },
    ],
  });
  const ours = measure(["scan", file]);
  record({
    case: "3 GiB safetensors (96 tensors)",
    file_gib: +(size / GiB).toFixed(2),
    header_bytes: json.length,
    bytes_read: ours.bytes_read,
    modelvet_ms: Math.round(ours.ms),
    severity: ours.severity,
    goal: "kilobytes read",
    met: ours.bytes_read < 64 * 1024,
  });
}

function gguf3g(vocab) {
  const file = join(work, `model-3g-vocab${vocab}.gguf`);
  const parts = [];
  const u32 = (n) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    parts.push(b);
  };
  const u64 = (n) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    parts.push(b);
  };
  const str = (s) => {
    const b = Buffer.from(s);
    u64(b.length);
    parts.push(b);
  };
  const kvString = (k, v) => {
    str(k);
    u32(8);
    str(v);
  };
  const tensors = 64;
  const each = 48 * MiB;
  parts.push(Buffer.from("GGUF"));
  u32(3);
  u64(tensors);
  u64(vocab > 0 ? 4 : 3);
  kvString("general.architecture", "llama");
  kvString("general.name", "bench");
  if (vocab > 0) {
    str("tokenizer.ggml.tokens");
    u32(9);
    u32(8);
    u64(vocab);
    for (let i = 0; i < vocab; i++) str(`tok${i}`);
  }
  kvString(
    "tokenizer.chat_template",
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
  );
  for (let i = 0; i < tensors; i++) {
    str(`blk.${i}.weight`);
    u32(1);
    u64(each / 4);
    u32(0);
    u64(i * each);
  }
  const head = Buffer.concat(parts);
  const dataStart = Math.ceil(head.length / 32) * 32;
  const size = dataStart + tensors * each;
  writeSparse(file, { size, segments: [{ offset: 0, bytes: head }] });
  const ours = measure(["scan", file]);
  record({
    case: `3 GiB GGUF (${vocab ? `${vocab}-token vocabulary` : "no vocabulary"})`,
    file_gib: +(size / GiB).toFixed(2),
    metadata_bytes: head.length,
    bytes_read: ours.bytes_read,
    modelvet_ms: Math.round(ours.ms),
    severity: ours.severity,
    // A GGUF vocabulary is an array of length-prefixed strings with no total size: its lengths must be walked.
    goal: vocab ? "only the metadata section read" : "kilobytes read",
    met: vocab ? ours.bytes_read < head.length + 128 * 1024 : ours.bytes_read < 64 * 1024,
  });
}

// ---- 8. The service: status-call latency under concurrent load while scans run ------------------------------------
function service() {
  const r = run(process.execPath, ["--import", "tsx", join(here, "service.ts")]);
  for (const line of r.stdout.trim().split("\n")) if (line.startsWith("{")) record(JSON.parse(line));
}

// ---- 9. Scale-out fail-over after SIGKILL of a worker, and the per-scan cost of the scan child process ---------------
function failover() {
  const r = run(process.execPath, ["--import", "tsx", join(here, "failover.ts")]);
  for (const line of r.stdout.trim().split("\n")) if (line.startsWith("{")) record(JSON.parse(line));
  if (r.stderr.trim()) console.error(r.stderr.trim());
}

// ---- 10. Continuous scanning at scale: 1,000 followed repos, scale-out with 1 and 2 workers -----------------------
function scale() {
  const r = run(process.execPath, ["--import", "tsx", join(here, "scale.ts")]);
  for (const line of r.stdout.trim().split("\n")) if (line.startsWith("{")) record(JSON.parse(line));
  if (r.stderr.trim()) console.error(r.stderr.trim());
}

const context = { python, modelvet, work, run, record, measure, best, writeSparse };
const cases = {
  startup: () => ratios.startup(context),
  manySmallPickles: () => ratios.manySmallPickles(context),
  poolSpeedup: () => ratios.poolSpeedup(context),
  checkpointRatio: async () => {
    await ratios.checkpointRatio(context, 0.5);
    await ratios.checkpointRatio(context, 3);
  },
  denseDicts: () => ratios.denseDicts(context),
  opcodeDense,
  bigBytes,
  checkpoint3g,
  smallPickles,
  compressedJoblib,
  hubRepo,
  safetensors3g,
  gguf3g: () => {
    gguf3g(0);
    gguf3g(32000);
  },
  service,
  failover,
  scale,
};
const args = process.argv.slice(2);
const check = args.includes("--check");
// `--check` runs the ratio cases (or the named ones) and compares them with the committed results; it writes nothing.
const only = args.filter((a) => a !== "--check");
const RATIO_CASES = ["startup", "manySmallPickles", "poolSpeedup", "checkpointRatio", "denseDicts"];
const selected = only.length > 0 ? only : check ? RATIO_CASES : Object.keys(cases);
for (const name of selected) {
  if (!cases[name]) throw new Error(`unknown case ${name}; cases: ${Object.keys(cases).join(", ")}`);
  await cases[name]();
}

if (check) {
  const committed = JSON.parse(readFileSync(join(here, "results.json"), "utf8")).results;
  const failures = ratios.regressions(committed, results);
  for (const f of failures) console.error(`regressed: ${f}`);
  console.log(failures.length ? `${failures.length} ratio(s) regressed by more than 25 %` : "no ratio regressed");
  process.exit(failures.length ? 1 : 0);
}

const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / GiB).toFixed(0)} GiB RAM, ${platform()} ${release()}, Node ${process.version}`;
// Cases not run this time keep their committed rows, so a partial run does not drop figures.
if (only.length > 0 && existsSync(join(here, "results.json"))) {
  const kept = JSON.parse(readFileSync(join(here, "results.json"), "utf8")).results.filter(
    (old) => !results.some((r) => r.case === old.case),
  );
  results.unshift(...kept);
}
writeFileSync(
  join(here, "results.json"),
  JSON.stringify({ machine, date: new Date().toISOString(), results }, null, 2) + "\n",
);
writeFileSync(join(here, "RESULTS.md"), renderMarkdown(machine, results) + keptSections());
console.log(`wrote bench/RESULTS.md (${results.length} cases)`);

/**
 * Written notes (the start-up profile, fail-over or scale figures) live below a marker line in RESULTS.md; a run
 * rewrites the measured part above it and keeps everything below as it is.
 */
function keptSections() {
  const KEPT_MARKER = "<!-- Sections below this line are written by hand; `npm run bench` keeps them. -->";
  const path = join(here, "RESULTS.md");
  const old = existsSync(path) ? readFileSync(path, "utf8") : "";
  const at = old.indexOf(KEPT_MARKER);
  return at >= 0 ? "\n" + old.slice(at) : `\n${KEPT_MARKER}\n`;
}

function renderMarkdown(machine, rows) {
  const goals = rows.filter((r) => r.goal !== undefined);
  const lines = [
    "# Benchmark results",
    "",
    "| case | goal | met |",
    "|---|---|---|",
    ...goals.map((r) => `| ${r.case} | ${r.goal} | ${r.met ? "yes" : "**no**"} |`),
    "",
    `Machine: ${machine}.`,
    `Date: ${new Date().toISOString().slice(0, 10)}. Command: \`npm run bench\` (all cases in one run; inputs generated under bench/work/).`,
    "Cases with a `reference` row are whole processes (start-up included), the median of 5 runs interleaved with",
    "the reference command in the same run; CPU time, wall time and peak RSS from getrusage(RUSAGE_CHILDREN).",
    "Other times are wall-clock inside the measuring process (start-up excluded), best of 3 where repeated.",
    "`npm run bench -- --check` re-runs the ratio cases and fails when one is more than 25 % worse than committed.",
    "",
  ];
  for (const row of rows) {
    lines.push(`## ${row.case}`, "", "| measure | value |", "|---|---|");
    for (const [k, v] of Object.entries(row)) if (k !== "case") lines.push(`| ${k} | ${v} |`);
    lines.push("");
  }
  return lines.join("\n");
}
