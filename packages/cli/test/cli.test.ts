import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const BIN = join(ROOT, "node_modules", ".bin", "modelvet");
const ADV = join(ROOT, "packages", "engine", "test", "fixtures", "adversarial");

function modelvet(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(BIN, args, { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, maxBuffer: 1 << 28 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "modelvet-cli-"));
}

interface JsonReport {
  severity: number;
  severity_label: string;
  rules_version: string;
  file_security_reports: Array<{
    path: string;
    severity: number;
    formats: string[];
    unsafe_dependencies: Array<{
      module: string;
      name: string;
      severity: number;
      rule: string;
      reason: string;
      call?: string;
      locations: Array<{ offset?: number }>;
    }>;
    indicators: Array<{ id: string; severity: number }>;
  }>;
  scanned_files: Array<{ path: string; severity: number; bytes_read: number; size: number }>;
  stats: { files: number; bytes_total: number; bytes_read: number; duration_ms: number };
}

function jsonScan(...args: string[]): { code: number | null; report: JsonReport } {
  const run = modelvet("scan", "--format", "json", ...args);
  expect(run.stderr).toBe("");
  return { code: run.code, report: JSON.parse(run.stdout) as JsonReport };
}

describe("modelvet scan", () => {
  it("grades a payload Alert, names the global and shows the call, exit 1", () => {
    const run = modelvet("scan", join(ADV, "getattr-import-chain.pkl"));
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^ALERT\s+.*getattr-import-chain\.pkl \[pickle\]/m);
    expect(run.stdout).toContain("os.system");
    expect(run.stdout).toContain(
      "would run: builtins.getattr(builtins.__import__('os'), 'system')('echo modelvet-test')",
    );
    expect(run.stdout).toMatch(/Alert: 1 file — 1 Alert, 0 Warning, 0 Pass/);
  });

  it("passes a harmless pickle with exit 0", () => {
    const run = modelvet("scan", join(ADV, "string-mentions-only.pkl"));
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^PASS\s/m);
  });

  it("judges by bytes, not by extension: a protocol-0 payload named .txt", () => {
    const { code, report } = jsonScan(join(ADV, "protocol-0-payload.txt"));
    expect(code).toBe(1);
    const deps = report.file_security_reports[0]!.unsafe_dependencies;
    expect(deps.map((d) => `${d.module}.${d.name}`)).toContain("os.system");
  });

  it("writes the JSON result shape", () => {
    const { report } = jsonScan(join(ADV, "o6-inst.pkl"), join(ADV, "copyreg-reconstructor-p2.pkl"));
    expect(report.severity).toBe(3);
    expect(report.severity_label).toBe("Alert");
    expect(report.rules_version).toMatch(/\d/);
    expect(report.stats.files).toBe(2);
    expect(report.scanned_files.map((f) => f.severity).sort()).toEqual([1, 3]);
    const file = report.file_security_reports[0]!;
    expect(file.formats).toEqual(["pickle"]);
    const dep = file.unsafe_dependencies[0]!;
    expect(dep).toMatchObject({ module: "os", name: "system", severity: 3, call: "os.system('echo modelvet-test')" });
    expect(dep.rule).not.toBe("unlisted");
    expect(dep.reason.length).toBeGreaterThan(5);
    expect(dep.locations[0]!.offset).toBe(23); // the INST opcode follows MARK and the 22-byte STRING line
  });

  it("exits 1 on Warning only with --fail-on warning", () => {
    const file = join(ADV, "unknown-opcode.pkl");
    expect(modelvet("scan", file).code).toBe(0);
    expect(modelvet("scan", "--fail-on", "warning", file).code).toBe(1);
  });

  it("writes SARIF 2.1.0 with rules and located results", () => {
    const run = modelvet("scan", "--format", "sarif", join(ADV, "o8-dotted-attribute-path.pkl"));
    const sarif = JSON.parse(run.stdout) as {
      version: string;
      runs: Array<{
        tool: { driver: { rules: Array<{ id: string; help: { text: string } }> } };
        results: Array<{
          ruleId: string;
          ruleIndex: number;
          level: string;
          locations: Array<{ physicalLocation: { artifactLocation: { uri: string } } }>;
        }>;
      }>;
    };
    expect(sarif.version).toBe("2.1.0");
    const [sarifRun] = sarif.runs;
    expect(sarifRun!.results[0]!.level).toBe("error");
    expect(sarifRun!.results[0]!.locations[0]!.physicalLocation.artifactLocation.uri).toContain(
      "o8-dotted-attribute-path.pkl",
    );
    const rule = sarifRun!.tool.driver.rules[sarifRun!.results[0]!.ruleIndex]!;
    expect(rule.id).toBe(sarifRun!.results[0]!.ruleId);
    expect(rule.help.text.length).toBeGreaterThan(5);
  });

  it("writes to --output instead of standard output", () => {
    const out = join(tempDir(), "report.json");
    const run = modelvet("scan", "--format", "json", "--output", out, join(ADV, "o6-inst.pkl"));
    expect(run.stdout).toBe("");
    expect((JSON.parse(readFileSync(out, "utf8")) as JsonReport).severity).toBe(3);
  });

  it("walks folders recursively and handles thousands of files", () => {
    const dir = tempDir();
    for (let d = 0; d < 30; d++) {
      mkdirSync(join(dir, `d${d}`));
      for (let f = 0; f < 100; f++)
        writeFileSync(join(dir, `d${d}`, `f${f}.pkl`), Buffer.from([0x80, 0x04, 0x4b, f, 0x2e]));
    }
    writeFileSync(join(dir, "d7", "evil.bin"), readFileSync(join(ADV, "o6-inst.pkl")));
    const { code, report } = jsonScan(dir);
    expect(code).toBe(1);
    expect(report.stats.files).toBe(3001);
    expect(report.file_security_reports.map((r) => r.path)).toEqual([join(dir, "d7", "evil.bin")]);
  });

  it("gives a clear message and exit 2 for a missing path", () => {
    const run = modelvet("scan", "/no/such/model.pt");
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("modelvet: no such file or folder: /no/such/model.pt\n");
  });

  it("rejects bad arguments with exit 2", () => {
    const run = modelvet("scan", "--format", "xml", join(ADV, "o6-inst.pkl"));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--format");
  });

  it("layers a user rules file on the pack (--rules)", () => {
    const dir = tempDir();
    const rules = join(dir, "team.json");
    writeFileSync(
      rules,
      JSON.stringify({ rules: [{ id: "team-allow-smtp", match: "smtplib.SMTP", severity: 1, reason: "Our mailer." }] }),
    );
    const without = jsonScan(join(ADV, "o7-obj-pop.pkl"));
    expect(without.report.severity).toBe(3);
    const withRules = jsonScan("--rules", rules, join(ADV, "o7-obj-pop.pkl"));
    expect(withRules.report.severity).toBe(1);
    expect(withRules.report.rules_version).toContain("+team.json");
  });

  it("reports a broken rules file clearly", () => {
    const bad = join(tempDir(), "bad.json");
    writeFileSync(bad, JSON.stringify({ rules: [{ id: "x", match: "numpy.*", severity: 1, reason: "too wide" }] }));
    const run = modelvet("scan", "--rules", bad, join(ADV, "o6-inst.pkl"));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("allow rules must be exact");
  });
});

describe("modelvet rules", () => {
  it("explains why a name gets its severity", () => {
    const run = modelvet("rules", "explain", "posix.system");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^posix\.system: Alert \(3\)/);
    expect(run.stdout).toContain("os.system");
    expect(run.stdout).toContain("normalized");
  });

  it("explains dotted attribute paths through their tails", () => {
    const run = modelvet("rules", "explain", "pathlib:os.system");
    expect(run.stdout).toMatch(/^pathlib\.os\.system: Alert/);
    expect(run.stdout).toContain("dotted tail");
  });

  it("lists the rules", () => {
    const run = modelvet("rules", "list");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^modelvet-default \S+: \d+ rules/);
    expect(run.stdout).toMatch(/Alert\s+os\.\*/);
  });
});
