import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeHub, smallFile } from "../../engine/test/support/hub-server.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const BIN = join(ROOT, "node_modules", ".bin", "modelvet");
const ADV = join(ROOT, "packages", "engine", "test", "fixtures", "adversarial");
const CONTAINERS = join(ROOT, "packages", "engine", "test", "fixtures", "containers");
const MULTITOOL = join(ROOT, "node_modules", "@microsoft", "sarif-multitool-linux", "Sarif.Multitool");
const SHA = "c".repeat(40);
const hub = new FakeHub();

beforeAll(async () => {
  await hub.start();
  hub.addRepo({
    id: "acme/ci",
    refs: { main: SHA },
    commits: { [SHA]: [smallFile("weights/model.pkl", readFileSync(join(ADV, "o6-inst.pkl")), { lfs: true })] },
  });
});
afterAll(() => hub.stop());

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function modelvet(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(BIN, args, {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, NO_COLOR: "1", HF_TOKEN: "", HF_ENDPOINT: hub.hubUrl, ...options.env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "modelvet-ci-"));
}

const sarifSchema = JSON.parse(
  readFileSync(join(import.meta.dirname, "schemas", "sarif-2.1.0.json"), "utf8"),
) as object;
const validateSarif = new Ajv2020({ allErrors: true, strict: false, validateFormats: false }).compile(sarifSchema);

/** Sarif.Multitool validate with its SARIF and GitHub rules; returns the errors and warnings it logged. */
function multitool(file: string): string[] {
  const out = `${file}.validation.sarif`;
  const run = spawnSync(MULTITOOL, ["validate", file, "--rule-kind", "Sarif;Gh", "-o", out], {
    encoding: "utf8",
    env: { ...process.env, DOTNET_SYSTEM_GLOBALIZATION_INVARIANT: "1" },
    timeout: 120_000,
  });
  expect(run.status, run.stdout + run.stderr).toBe(0);
  const log = JSON.parse(readFileSync(out, "utf8")) as {
    runs: Array<{ results?: Array<{ level?: string; ruleId: string; message: { text?: string; id?: string } }> }>;
  };
  return (log.runs[0]!.results ?? [])
    .filter((r) => r.level === "error" || r.level === undefined || r.level === "warning")
    .map((r) => `${r.ruleId}: ${r.message.text ?? r.message.id}`);
}

interface SarifLog {
  runs: Array<{
    tool: { driver: { rules: Array<{ id: string; name: string; helpUri: string }> } };
    originalUriBaseIds: Record<string, { uri: string }>;
    automationDetails: { id: string };
    invocations: Array<{ executionSuccessful: boolean; exitCode: number; toolExecutionNotifications?: unknown[] }>;
    results: Array<{
      message: { text: string };
      locations: Array<{
        physicalLocation: {
          artifactLocation: { uri: string; uriBaseId?: string };
          region: { startLine: number; byteOffset?: number };
        };
        logicalLocations?: Array<{ name: string }>;
      }>;
    }>;
  }>;
}

async function sarifScan(args: string[], cwd?: string): Promise<{ log: SarifLog; file: string; code: number | null }> {
  const file = join(tempDir(), "scan.sarif");
  const run = await modelvet(["scan", "--no-cache", "-f", "sarif", "-o", file, ...args], cwd ? { cwd } : {});
  expect(run.stderr).toBe("");
  const log = JSON.parse(readFileSync(file, "utf8")) as SarifLog;
  expect(validateSarif(log), JSON.stringify(validateSarif.errors?.slice(0, 3))).toBe(true);
  expect(multitool(file)).toEqual([]);
  return { log, file, code: run.code };
}

describe("SARIF that code scanning ingests", { timeout: 240_000 }, () => {
  it("a scan inside the working directory: %SRCROOT%-relative URIs, regions, rule pages", async () => {
    const { log, code } = await sarifScan(["packages/engine/test/fixtures/adversarial/getattr-import-chain.pkl"]);
    expect(code).toBe(1);
    const run = log.runs[0]!;
    const location = run.results[0]!.locations[0]!.physicalLocation;
    expect(location.artifactLocation).toEqual({
      uri: "packages/engine/test/fixtures/adversarial/getattr-import-chain.pkl",
      uriBaseId: "%SRCROOT%",
    });
    expect(run.originalUriBaseIds["%SRCROOT%"]!.uri).toBe(`file://${ROOT}/`);
    expect(location.region.startLine).toBe(1);
    expect(location.region.byteOffset).toBeGreaterThanOrEqual(0);
    for (const rule of run.tool.driver.rules) {
      expect(rule.name.toLowerCase()).not.toBe(rule.id.toLowerCase());
      expect(rule.helpUri).toMatch(/\/docs\/rules\/[^/]+\.md$/);
      expect(existsSync(join(ROOT, "docs", "rules", `${decodeURIComponent(rule.helpUri.split("/").pop()!)}`))).toBe(
        true,
      );
    }
    expect(run.invocations[0]).toMatchObject({ executionSuccessful: true, exitCode: 1 });
    expect(run.automationDetails.id).toBe("modelvet/");
  });

  it("an absolute path outside the working directory: file:// URIs, --sarif-category", async () => {
    const dir = tempDir();
    for (const name of ["getattr-import-chain.pkl", "o6-inst.pkl", "string-mentions-only.pkl"])
      copyFileSync(join(ADV, name), join(dir, name));
    const { log } = await sarifScan([dir, "--sarif-category", "models/weights"]);
    const uris = log.runs[0]!.results.map((r) => r.locations[0]!.physicalLocation.artifactLocation);
    expect(uris.length).toBeGreaterThan(1);
    for (const uri of uris) {
      expect(uri.uri).toMatch(/^file:\/\/\//);
      expect(uri.uriBaseId).toBeUndefined();
    }
    expect(log.runs[0]!.automationDetails.id).toBe("models/weights/");
  });

  it("container members: the container's URI, the member in the message and logical location", async () => {
    const { log } = await sarifScan([join(CONTAINERS, "deflated_payload.zip"), join(CONTAINERS, "hidden_entry.zip")]);
    const results = log.runs[0]!.results;
    const member = results.find((r) => r.locations[0]!.logicalLocations)!;
    expect(member.locations[0]!.physicalLocation.artifactLocation.uri).toMatch(/\.zip$/);
    const name = member.locations[0]!.logicalLocations![0]!.name;
    expect(name).toMatch(/\.pkl$/);
    expect(member.message.text).toContain(name);
    // An offset inside a member is not an offset in the container.
    expect(member.locations[0]!.physicalLocation.region).toEqual({ startLine: 1 });
  });

  it("a Hub scan: the https page of the file at the scanned commit", async () => {
    const { log } = await sarifScan(["hf://acme/ci"]);
    const uri = log.runs[0]!.results[0]!.locations[0]!.physicalLocation.artifactLocation;
    expect(uri).toEqual({ uri: `${hub.hubUrl}/acme/ci/blob/${SHA}/weights/model.pkl` });
  });
});

describe("exit codes never pass what was not read", () => {
  it("nothing to scan: an empty folder, everything excluded, a folder of only .git → 2 with one line", async () => {
    const empty = tempDir();
    const excluded = tempDir();
    copyFileSync(join(ADV, "o6-inst.pkl"), join(excluded, "model.pkl"));
    const vcsOnly = tempDir();
    mkdirSync(join(vcsOnly, ".git"));
    copyFileSync(join(ADV, "o6-inst.pkl"), join(vcsOnly, ".git", "model.pkl"));
    for (const args of [[empty], [excluded, "--exclude", "*.pkl"], [vcsOnly], [`hf://acme/ci/nothing-here`]]) {
      const run = await modelvet(["scan", "--no-cache", ...args]);
      expect(run.code, args.join(" ")).toBe(2);
      expect(run.stdout).toBe("");
      expect(run.stderr.trim().split("\n")).toHaveLength(1);
      expect(run.stderr).toMatch(/nothing to scan|no file or folder nothing-here/);
    }
  });

  it("skips .git/, node_modules/, __pycache__/ by default; --include-vcs scans them; --exclude is repeatable", async () => {
    const dir = tempDir();
    for (const sub of [".git", "node_modules", "__pycache__", "cache", "keep"]) {
      mkdirSync(join(dir, sub));
      copyFileSync(join(ADV, "o6-inst.pkl"), join(dir, sub, "m.pkl"));
    }
    const paths = async (...args: string[]): Promise<string[]> => {
      const run = await modelvet(["scan", "--no-cache", "-f", "json", dir, ...args]);
      return (JSON.parse(run.stdout) as { scanned_files: Array<{ path: string }> }).scanned_files
        .map((f) => f.path.slice(dir.length + 1))
        .sort();
    };
    expect(await paths()).toEqual(["cache/m.pkl", "keep/m.pkl"]);
    expect(await paths("--exclude", "cache", "--exclude", "keep/*.txt")).toEqual(["keep/m.pkl"]);
    expect(await paths("--include-vcs")).toHaveLength(5);
  });

  it("does not follow a symlink out of the scanned root", async () => {
    const outside = tempDir();
    copyFileSync(join(ADV, "getattr-import-chain.pkl"), join(outside, "payload.pkl"));
    const root = tempDir();
    copyFileSync(join(ADV, "string-mentions-only.pkl"), join(root, "inside.pkl"));
    symlinkSync(join(outside, "payload.pkl"), join(root, "link-out.pkl"));
    symlinkSync(join(root, "inside.pkl"), join(root, "link-in.pkl"));
    const run = await modelvet(["scan", "--no-cache", "-f", "json", root]);
    const report = JSON.parse(run.stdout) as {
      scanned_files: Array<{ path: string }>;
      skipped_paths: Array<{ path: string; reason: string }>;
    };
    expect(report.scanned_files.map((f) => f.path.slice(root.length + 1)).sort()).toEqual([
      "inside.pkl",
      "link-in.pkl",
    ]);
    expect(report.skipped_paths).toEqual([{ path: join(root, "link-out.pkl"), reason: "symlink-outside-root" }]);
  });

  // As root the test drops to uid 65534, which must be able to reach the CLI: a clone inside a private (0700)
  // temporary folder cannot be run by that user, and then the case cannot be set up at all.
  const unprivilegedCanRun =
    process.getuid?.() !== 0 ||
    spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "test", "-r", BIN]).status === 0;
  if (!unprivilegedCanRun) console.log(`skipped "an unreadable file": uid 65534 cannot reach ${BIN}`);
  it.skipIf(!unprivilegedCanRun)("an unreadable file → exit 2 and listed; --allow-unreadable judges the rest", () => {
    const dir = tempDir();
    chmodSync(dir, 0o755);
    copyFileSync(join(ADV, "string-mentions-only.pkl"), join(dir, "ok.pkl"));
    writeFileSync(join(dir, "secret.pkl"), readFileSync(join(ADV, "o6-inst.pkl")));
    chmodSync(join(dir, "secret.pkl"), 0o000);
    chmodSync(join(dir, "ok.pkl"), 0o644);
    // root reads anything: drop to an unprivileged user so the permission is real.
    const asUser = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
    const run = (...args: string[]) =>
      spawnSync(asUser[0] ?? BIN, [...asUser.slice(1), ...(asUser.length ? [BIN] : []), ...args], {
        encoding: "utf8",
        cwd: dir,
        env: { ...process.env, NO_COLOR: "1" },
      });
    const strict = run("scan", "--no-cache", "-f", "json", dir);
    expect(strict.status, strict.stderr).toBe(2);
    expect(strict.stderr).toMatch(/1 file could not be read/);
    const report = JSON.parse(strict.stdout) as { unreadable_files: Array<{ path: string; error: string }> };
    expect(report.unreadable_files).toEqual([{ path: join(dir, "secret.pkl"), error: "EACCES" }]);
    const text = run("scan", "--no-cache", dir);
    expect(text.stdout).toMatch(/UNREAD\s+.*secret\.pkl \(could not be read: EACCES\)/);
    const sarif = run("scan", "--no-cache", "-f", "sarif", dir);
    const log = JSON.parse(sarif.stdout) as SarifLog;
    expect(log.runs[0]!.invocations[0]).toMatchObject({ executionSuccessful: false, exitCode: 2 });
    expect(log.runs[0]!.invocations[0]!.toolExecutionNotifications).toHaveLength(1);
    expect(log.runs[0]!.results).toEqual([]);
    expect(run("scan", "--no-cache", "--allow-unreadable", dir).status).toBe(0);
  });

  it("a closed pipe is quiet", () => {
    for (const cmd of [`${BIN} rules list | head -1`, `${BIN} rules list -f json | head -c 10`]) {
      const run = spawnSync("bash", ["-c", `set -o pipefail; ${cmd}`], { encoding: "utf8" });
      expect(run.stderr, cmd).toBe("");
      expect(run.stdout.length).toBeGreaterThan(0);
    }
  });
});

describe("--rules is validated against rules-file.schema.json", () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ["a bare array", [], /\$: must be object/],
    ["an empty object", {}, /\$: is empty/],
    ["an unknown top-level key", { rulez: [] }, /\$: unknown key "rulez"/],
    [
      "a wrong type and an unknown key in a rule",
      { rules: [{ id: "x", match: "a.b", severity: "3", reason: "r", sevrity: 3 }] },
      /\$\.rules\[0\]\.severity: must be one of 1, 2, 3[\s\S]*\$\.rules\[0\]: unknown key "sevrity"|\$\.rules\[0\]: unknown key "sevrity"[\s\S]*\$\.rules\[0\]\.severity/,
    ],
    ["a missing reason", { rules: [{ id: "x", match: "a.b", severity: 3 }] }, /\$\.rules\[0\]: missing key "reason"/],
  ];
  for (const [what, content, message] of cases)
    it(`refuses ${what} with exit 2, naming the file and the JSON path`, async () => {
      const file = join(tempDir(), "rules.json");
      writeFileSync(file, JSON.stringify(content));
      const run = await modelvet(["scan", "--rules", file, join(ADV, "o6-inst.pkl")]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(file);
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe("");
    });
});

describe("CycloneDX", () => {
  it("writes a CycloneDX 1.6 BOM that validates, with hashes, Hub references and vulnerabilities", async () => {
    const { Validation, Spec } = await import("@cyclonedx/cyclonedx-library");
    const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
    const local = await modelvet(
      ["scan", "-f", "cyclonedx", join(ADV, "o6-inst.pkl"), join(ADV, "string-mentions-only.pkl")],
      {
        env: { XDG_CACHE_HOME: tempDir() },
      },
    );
    const remote = await modelvet(["scan", "--no-cache", "-f", "cyclonedx", "hf://acme/ci"]);
    for (const run of [local, remote]) {
      expect(await validator.validate(run.stdout)).toBeNull();
      const bom = JSON.parse(run.stdout) as {
        specVersion: string;
        components: Array<{ type: string; "bom-ref": string; hashes?: Array<{ alg: string; content: string }> }>;
        vulnerabilities: Array<{ id: string; affects: Array<{ ref: string }> }>;
      };
      expect(bom.specVersion).toBe("1.6");
      expect(bom.components[0]!.type).toBe("machine-learning-model");
      expect(bom.components[0]!.hashes?.[0]?.alg).toBe("SHA-256");
      expect(bom.vulnerabilities.length).toBeGreaterThan(0);
      for (const v of bom.vulnerabilities) expect(bom.components.map((c) => c["bom-ref"])).toContain(v.affects[0]!.ref);
    }
    expect(remote.stdout).toContain(`${hub.hubUrl}/acme/ci/blob/${SHA}/weights/model.pkl`);
    expect(remote.stdout).toContain(`commit ${SHA}`);
  });
});

describe("README truth", () => {
  it("every marked README sample is the output of a real run (npm run docs:samples)", () => {
    const run = spawnSync(process.execPath, [join(ROOT, "scripts", "readme-samples.mjs"), "--check"], {
      encoding: "utf8",
    });
    expect(run.status, run.stderr).toBe(0);
    expect(readFileSync(join(ROOT, "README.md"), "utf8")).toContain("<!-- sample: modelvet scan examples/ -->");
  });

  it("documents every scan option", async () => {
    const help = (await modelvet(["scan", "--help"])).stdout;
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const options = [...help.matchAll(/^\s+(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]!).filter((o) => o !== "--help");
    expect(options.length).toBeGreaterThan(10);
    for (const option of options) expect(readme, option).toMatch(new RegExp(`${option}(?![\\w-])`));
  });
});

describe("text summary", () => {
  it("reports hashing apart from reading, and never reads more than the total", async () => {
    const cache = tempDir();
    const targets = [join(ADV, "o6-inst.pkl"), join(CONTAINERS, "deflated_payload.zip"), join(ROOT, "examples")];
    for (const args of [["--cache-dir", cache], ["--cache-dir", cache], ["--no-cache"]]) {
      const run = await modelvet(["scan", ...args, ...targets]);
      const [, read, total, hashed] =
        /read (\S+ \S+) of (\S+ \S+)(?: \(\+\S+ \S+ read again\))?(?:, hashed (\S+ \S+))? in/.exec(run.stdout)!;
      const bytes = (s: string): number => {
        const [n, unit] = s.split(" ");
        return Number(n) * 1024 ** ["B", "KiB", "MiB", "GiB"].indexOf(unit!);
      };
      expect(bytes(read!)).toBeLessThanOrEqual(bytes(total!));
      if (args[0] === "--no-cache") expect(hashed).toBeUndefined();
      else expect(hashed).toBeDefined();
    }
  });
});

describe("rule pages", () => {
  it("docs/rules matches the rules pack (npm run docs:rules regenerates it)", () => {
    const run = spawnSync(process.execPath, [join(ROOT, "scripts", "docs-rules.mjs"), "--check"], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
  });

  it("`rules explain <id>` prints the same page as docs/rules/<id>.md", async () => {
    for (const id of ["deny-os", "unlisted", "pickle.truncated"]) {
      const run = await modelvet(["rules", "explain", id]);
      expect(run.code).toBe(0);
      expect(run.stdout).toBe(readFileSync(join(ROOT, "docs", "rules", `${id}.md`), "utf8"));
    }
  });
});

/** A pickle of `batches` × 1000 BININT1 appends: parsed opcode by opcode, so reading it takes a while. */
function longPickle(batches: number): Buffer {
  const bytes = Buffer.alloc(4 + batches * 2002);
  let at = 0;
  bytes.set([0x80, 0x02, 0x5d], at);
  at += 3;
  for (let j = 0; j < batches; j++) {
    bytes[at++] = 0x28; // MARK
    for (let i = 0; i < 1000; i++) {
      bytes[at++] = 0x4b; // BININT1
      bytes[at++] = i & 0xff;
    }
    bytes[at++] = 0x65; // APPENDS
  }
  bytes[at++] = 0x2e; // STOP
  return bytes.subarray(0, at);
}

describe("progress inside a file", () => {
  it.skipIf(!existsSync("/usr/bin/script"))("on a terminal the bar shows bytes of the file being read", () => {
    const dir = tempDir();
    const file = join(dir, "long.pkl");
    writeFileSync(file, longPickle(64_000));
    const run = spawnSync("/usr/bin/script", ["-q", "-e", "-c", `${BIN} scan --no-cache ${file}`, "/dev/null"], {
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1", COLUMNS: "160" },
      timeout: 120_000,
    });
    expect(run.status, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/PASS\s+\S*long\.pkl/);
    const frames = [...run.stdout.matchAll(/scanning \[[^\]]*\] 0\/1 files \| ([\d.]+ \w+) of ([\d.]+ \w+) read/g)];
    expect(frames.length, run.stdout.slice(0, 2000)).toBeGreaterThan(0);
    expect(frames.some((f) => f[1] !== "0 B")).toBe(true);
  });

  it("reports bytes of a file still being read, at least every interval", async () => {
    const { scanTargets } = await import("@modelvet/engine");
    const dir = tempDir();
    const big = join(dir, "long.pkl");
    const bytes = longPickle(24_000);
    writeFileSync(big, bytes);
    const updates: Array<{ filesDone: number; bytesRead: number; active: string[] }> = [];
    await scanTargets([dir], {
      cacheDir: false,
      progressIntervalMs: 5,
      onProgress: (p) => updates.push({ filesDone: p.filesDone, bytesRead: p.bytesRead, active: p.active }),
    });
    const during = updates.filter((u) => u.filesDone === 0);
    expect(updates.at(-1)!.filesDone).toBe(1);
    // The field names the service will show: every update has them.
    for (const u of updates) expect(Object.keys(u)).toEqual(["filesDone", "bytesRead", "active"]);
    expect(during.length).toBeGreaterThan(1);
    expect(during.every((u) => u.active.includes(big))).toBe(true);
    // Bytes move while the file is still being read.
    expect(during.some((u) => u.bytesRead > 0 && u.bytesRead < bytes.length)).toBe(true);
  });
});
