// Whole-process ratios against a reference measured in the same run (the speed goals of the project):
// start-up against `node -e 0`, a folder of small pickles and a torch checkpoint against Python walking them with
// pickletools.genops (the core of the peer scanners), and an opcode-dense pickle against genops itself.
// CPU time, wall time and peak RSS of each child come from Python's resource.getrusage(RUSAGE_CHILDREN), which
// counts every process a command starts; each figure is the median of `RUNS` runs.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";

const RUNS = 5;

/** Runs each command RUNS times (interleaved, so load affects all alike) and returns medians per command. */
export function measureCommands(python, commands, options = {}) {
  const script = `
import json, resource, subprocess, sys, time
commands = json.loads(sys.argv[1]); runs = int(sys.argv[2]); cwd = sys.argv[3] or None
samples = [[] for _ in commands]
for _ in range(runs):
    for i, cmd in enumerate(commands):
        # A fresh interpreter per sample: RUSAGE_CHILDREN's maxrss is the largest child so far, so it must be alone.
        code = "import resource, subprocess, sys, time, json\\n" \\
               "t = time.perf_counter(); r = subprocess.run(json.loads(sys.argv[1]), stdout=subprocess.DEVNULL, cwd=sys.argv[2] or None)\\n" \\
               "w = time.perf_counter() - t; u = resource.getrusage(resource.RUSAGE_CHILDREN)\\n" \\
               "print(json.dumps([w, u.ru_utime + u.ru_stime, u.ru_maxrss, r.returncode]))"
        out = subprocess.run([sys.executable, "-c", code, json.dumps(cmd), cwd or ""], capture_output=True, text=True, check=True)
        samples[i].append(json.loads(out.stdout))
def median(xs):
    xs = sorted(xs); return xs[len(xs) // 2]
print(json.dumps([{"wall_s": median([s[0] for s in rows]), "cpu_s": median([s[1] for s in rows]),
                   "peak_mb": median([s[2] for s in rows]) / 1024, "exit": rows[-1][3]} for rows in samples]))
`;
  const r = spawnSync(
    python,
    ["-c", script, JSON.stringify(commands), String(options.runs ?? RUNS), options.cwd ?? ""],
    {
      encoding: "utf8",
      maxBuffer: 1 << 24,
    },
  );
  if (r.status !== 0) throw new Error(`measuring ${JSON.stringify(commands)} failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const round = (x, digits = 3) => +x.toFixed(digits);

/** `modelvet --version` and a one-file scan, CPU time against `node -e 0`. */
export function startup({ python, modelvet, work, run, record }) {
  const tiny = join(work, "tiny.pkl");
  if (!existsSync(tiny))
    run(python, ["-c", `import pickle; open(${JSON.stringify(tiny)}, "wb").write(pickle.dumps({"a": [1, 2, 3]}))`]);
  const node = process.execPath;
  const [floor, version, scan] = measureCommands(python, [
    [node, "-e", "0"],
    [node, modelvet, "--version"],
    [node, modelvet, "scan", tiny, "--format", "json", "--no-cache"],
  ]);
  record({
    case: "start-up: modelvet --version",
    reference: "node -e 0 (CPU time)",
    node_cpu_s: round(floor.cpu_s),
    modelvet_cpu_s: round(version.cpu_s),
    ratio: round(version.cpu_s / floor.cpu_s, 2),
    goal: "at most 1.3x the CPU time of node -e 0",
    met: version.cpu_s / floor.cpu_s <= 1.3,
  });
  record({
    case: "start-up: modelvet scan <one small pickle> --format json",
    reference: "node -e 0 (CPU time)",
    node_cpu_s: round(floor.cpu_s),
    modelvet_cpu_s: round(scan.cpu_s),
    ratio: round(scan.cpu_s / floor.cpu_s, 2),
    goal: "at most 1.6x the CPU time of node -e 0",
    met: scan.cpu_s / floor.cpu_s <= 1.6,
  });
}

/** The Python reference for a folder: open each file, walk genops, collect GLOBAL/STACK_GLOBAL (picklescan's core). */
const GENOPS_FOLDER = `
import os, pickletools, sys
found = []
for root, _, names in os.walk(sys.argv[1]):
    for name in sorted(names):
        with open(os.path.join(root, name), "rb") as f:
            try:
                for op, arg, pos in pickletools.genops(f):
                    if op.name in ("GLOBAL", "STACK_GLOBAL"): found.append((name, op.name, arg))
            except Exception as e:
                found.append((name, "error", str(e)))
print(len(found))
`;

/** 2,000 small pickles (benign dicts, arrays, sklearn-like objects; 1 % with a payload). */
export function manySmallPickles({ python, modelvet, work, run, record }) {
  const dir = join(work, "many-small");
  if (!existsSync(join(dir, "f1999.pkl"))) {
    mkdirSync(dir, { recursive: true });
    run(python, [
      "-c",
      `
import pickle, sys, collections
d = sys.argv[1]
def obj(cls_module, cls_name, state):
    # A class instance as sklearn pickles them (copyreg._reconstructor + BUILD), without importing sklearn.
    return b"\\x80\\x02ccopyreg\\n_reconstructor\\nq\\x00c" + cls_module.encode() + b"\\n" + cls_name.encode() + \\
        b"\\nq\\x01cbuiltins\\nobject\\nq\\x02N\\x87q\\x03Rq\\x04" + pickle.dumps(state, 2)[2:-1] + b"b."
for i in range(2000):
    path = "%s/f%04d.pkl" % (d, i)
    kind = i % 4
    if i % 100 == 42:
        data = b"\\x80\\x02cposix\\nsystem\\nq\\x00X\\x07\\x00\\x00\\x00echo hiq\\x01\\x85q\\x02Rq\\x03."
    elif kind == 0:
        data = pickle.dumps({"weights": [float(j) for j in range(50)], "meta": collections.OrderedDict(name="m%d" % i)}, 2 + i % 4)
    elif kind == 1:
        data = pickle.dumps(list(range(200)), 2 + i % 4)
    elif kind == 2:
        data = pickle.dumps({"w": bytes(256), "shape": (16, 16)}, 2 + i % 4)
    else:
        data = obj("sklearn.linear_model._base", "LinearRegression", {"coef_": [0.5] * 20, "n_features_in_": 20})
    open(path, "wb").write(data)
`,
      dir,
    ]);
  }
  const node = process.execPath;
  const [python_, ours] = measureCommands(python, [
    [python, "-c", GENOPS_FOLDER, dir],
    [node, modelvet, "scan", dir, "--format", "json", "--no-cache", "--no-progress"],
  ]);
  record({
    case: "2,000 small pickles in one folder (20 with a payload)",
    reference: "python: open each file, walk pickletools.genops, collect GLOBAL/STACK_GLOBAL (wall time)",
    python_wall_s: round(python_.wall_s),
    modelvet_wall_s: round(ours.wall_s),
    modelvet_exit: ours.exit,
    ratio: round(ours.wall_s / python_.wall_s, 2),
    modelvet_peak_mb: Math.round(ours.peak_mb),
    goal: "at most 1.0x the reference's wall time, at most 64 MiB peak",
    met: ours.wall_s <= python_.wall_s && ours.peak_mb <= 64,
  });
}

/**
 * The worker pool where it pays: 128 opcode-dense pickles (1.2 MB each), whole process, `--jobs 1` against the
 * default (threads start once the work left is estimated at 3 s or more). Python's genops over the folder is the
 * reference of the folder case above.
 */
export function poolSpeedup({ python, modelvet, work, run, record }) {
  const dir = join(work, "many-dense");
  if (!existsSync(join(dir, "d127.pkl"))) {
    mkdirSync(dir, { recursive: true });
    run(python, [
      "-c",
      `
import pickle, sys
for k in range(128):
    rows = [{"id": i + k, "v": i * 0.25} for i in range(60000)]
    open("%s/d%03d.pkl" % (sys.argv[1], k), "wb").write(pickle.dumps(rows, protocol=4))
`,
      dir,
    ]);
  }
  const node = process.execPath;
  const scan = [node, modelvet, "scan", dir, "--format", "json", "--no-cache", "--no-progress"];
  const [python_, serial, pooled] = measureCommands(
    python,
    [[python, "-c", GENOPS_FOLDER, dir], [...scan, "--jobs", "1"], scan],
    {
      runs: 3,
    },
  );
  record({
    case: "128 opcode-dense pickles (1.2 MB each): worker threads",
    reference: "the same scan with --jobs 1 (wall time); python genops over the folder for scale",
    cpus: availableParallelism(),
    python_wall_s: round(python_.wall_s),
    jobs_1_wall_s: round(serial.wall_s),
    default_wall_s: round(pooled.wall_s),
    speedup: round(serial.wall_s / pooled.wall_s, 2),
    jobs_1_peak_mb: Math.round(serial.peak_mb),
    default_peak_mb: Math.round(pooled.peak_mb),
  });
}

/** A torch-layout zip: Python's zipfile opens it and walks data.pkl with genops. */
export async function checkpointRatio({ python, modelvet, work, record, writeSparse }, gib) {
  const { torchCheckpoint } = await import("../packages/engine/test/support/torch-zip.ts");
  const size = Math.round(gib * 1024 ** 3);
  const layout = torchCheckpoint(size, 300);
  const file = join(work, `checkpoint-ratio-${gib}g.pt`);
  if (!existsSync(file) || statSync(file).size !== layout.size) writeSparse(file, layout);
  const reference = `
import pickletools, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
name = next(n for n in z.namelist() if n.endswith("data.pkl"))
n = 0
with z.open(name) as f:
    for op, arg, pos in pickletools.genops(f): n += op.name in ("GLOBAL", "STACK_GLOBAL")
print(n)
`;
  const node = process.execPath;
  const [ref, ours] = measureCommands(python, [
    [python, "-c", reference, file],
    [node, modelvet, "scan", file, "--format", "json", "--no-cache", "--no-progress"],
  ]);
  const label = gib >= 1 ? `${gib} GiB` : `${Math.round(gib * 1024)} MiB`;
  record({
    case: `${label} torch-layout zip (data.pkl + 300 storages)`,
    reference: "python: zipfile opens the archive, genops walks data.pkl (wall time)",
    python_wall_s: round(ref.wall_s),
    modelvet_wall_s: round(ours.wall_s),
    ratio: round(ours.wall_s / ref.wall_s, 2),
    modelvet_peak_mb: Math.round(ours.peak_mb),
    goal: "at most 1.0x the reference's wall time",
    met: ours.wall_s <= ref.wall_s,
  });
}

/** Python's pickletools.genops over a file, in-process time (best of 3) and the opcode count. */
export function genopsTime({ python, run, best }, file) {
  return best(3, () => {
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
}

/** 1.2 M small dicts at protocol 4 (~60 MB, opcode-dense): in-process times, like the older dense case. */
export function denseDicts({ python, work, run, record, measure, best }) {
  const file = join(work, "dense-dicts-p4.pkl");
  if (!existsSync(file))
    run(python, [
      "-c",
      `
import pickle
rows = [{"id": i, "v": i * 0.25} for i in range(1_200_000)]
with open(${JSON.stringify(file)}, "wb") as f:
    pickle.dump(rows, f, protocol=4)
`,
    ]);
  const genops = genopsTime({ python, run, best }, file);
  const ours = best(3, () => measure(["inspect", file]));
  record({
    case: "opcode-dense 60 MB pickle (1.2 M small dicts, protocol 4)",
    reference: "python: pickletools.genops over the file (in-process time)",
    file_mb: +(statSync(file).size / 1e6).toFixed(1),
    opcodes: genops.ops,
    genops_ms: Math.round(genops.ms),
    modelvet_ms: Math.round(ours.ms),
    speedup: round(genops.ms / ours.ms, 2),
    modelvet_peak_rss_mb: ours.rss_mb,
    goal: "at least 10x faster than genops, at most 250 MB peak",
    met: genops.ms / ours.ms >= 10 && ours.rss_mb <= 250,
  });
}

/**
 * `--check`: every ratio of this run against the committed results; a ratio that got more than 25 % worse fails.
 * "ratio" is lower-is-better, "speedup" higher-is-better.
 */
export function regressions(previous, current, tolerance = 0.25) {
  const failures = [];
  for (const row of current) {
    const before = previous.find((p) => p.case === row.case);
    if (!before) continue;
    if (typeof row.ratio === "number" && typeof before.ratio === "number" && row.ratio > before.ratio * (1 + tolerance))
      failures.push(`${row.case}: ratio ${row.ratio} against ${before.ratio} committed`);
    if (
      typeof row.speedup === "number" &&
      typeof before.speedup === "number" &&
      row.speedup < before.speedup * (1 - tolerance)
    )
      failures.push(`${row.case}: speedup ${row.speedup} against ${before.speedup} committed`);
  }
  return failures;
}
