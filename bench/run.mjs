#!/usr/bin/env node
// Benchmarks: generates large inputs under bench/work/, measures modelvet against a reference where one exists,
// and writes bench/RESULTS.md and bench/results.json. Run with `npm run bench` (builds first).
// Reference timings need Debian's /usr/bin/python3 (standard library only).
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync, existsSync, openSync, writeSync, closeSync, ftruncateSync, statSync } from "node:fs";
import { cpus, totalmem, platform, release } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const work = join(here, "work");
mkdirSync(work, { recursive: true });
const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
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
  const genops = best(3, () => {
    const r = run(python, [
      "-c",
      `
import pickletools, time, sys
t = time.perf_counter(); n = 0
with open(sys.argv[1], "rb") as f:
    for _ in pickletools.genops(f): n += 1
print(n, (time.perf_counter() - t) * 1000)
`,
      file,
    ]);
    const [ops, ms] = r.stdout.trim().split(" ").map(Number);
    return { ops, ms };
  });
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
  });
}

const cases = { opcodeDense, bigBytes };
const only = process.argv.slice(2);
for (const [name, fn] of Object.entries(cases)) if (only.length === 0 || only.includes(name)) fn();

const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / GiB).toFixed(0)} GiB RAM, ${platform()} ${release()}, Node ${process.version}`;
writeFileSync(
  join(here, "results.json"),
  JSON.stringify({ machine, date: new Date().toISOString(), results }, null, 2) + "\n",
);
writeFileSync(join(here, "RESULTS.md"), renderMarkdown(machine, results));
console.log(`wrote bench/RESULTS.md (${results.length} cases)`);

function renderMarkdown(machine, rows) {
  const lines = [
    "# Benchmark results",
    "",
    `Machine: ${machine}.`,
    `Date: ${new Date().toISOString().slice(0, 10)}. Command: \`npm run bench\` (all cases in one run; inputs generated under bench/work/).`,
    "Times are wall-clock inside the measuring process (Node or Python start-up excluded), best of 3 where repeated.",
    "",
  ];
  for (const row of rows) {
    lines.push(`## ${row.case}`, "", "| measure | value |", "|---|---|");
    for (const [k, v] of Object.entries(row)) if (k !== "case") lines.push(`| ${k} | ${v} |`);
    lines.push("");
  }
  return lines.join("\n");
}
