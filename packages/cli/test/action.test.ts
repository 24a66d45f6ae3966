import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { FakeHub, smallFile } from "../../engine/test/support/hub-server.js";

/**
 * The GitHub Action's scan step (scripts/action-scan.sh), run here as action.yml runs it: inputs in INPUT_*
 * variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, the workspace as the working folder.
 */
const ROOT = join(import.meta.dirname, "..", "..", "..");
const SCRIPT = join(ROOT, "scripts", "action-scan.sh");
const BIN = join(ROOT, "node_modules", ".bin", "modelvet");
const ADV = join(ROOT, "packages", "engine", "test", "fixtures", "adversarial");
const SHA = "ac71".repeat(10);
const HF_TOKEN = "hf_action_test_token_0123456789";
const hub = new FakeHub();

const validateSarif = new Ajv2020({ allErrors: true, strict: false, validateFormats: false }).compile(
  JSON.parse(readFileSync(join(import.meta.dirname, "schemas", "sarif-2.1.0.json"), "utf8")) as object,
);

beforeAll(async () => {
  hub.addRepo({
    id: "acme/private-weights",
    private: true,
    token: HF_TOKEN,
    refs: { main: SHA },
    commits: { [SHA]: [smallFile("model.bin", readFileSync(join(ADV, "o6-inst.pkl")), { lfs: true })] },
  });
  await hub.start();
});
const made: string[] = [];
afterAll(async () => {
  await hub.stop();
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

interface Step {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  workspace: string;
}

/** A workspace holding the given fixtures (name in the workspace → source file). */
function workspace(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "modelvet-action-"));
  made.push(dir, `${dir}.output`, `${dir}.output.summary`);
  for (const [name, source] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    copyFileSync(source, join(dir, name));
  }
  return dir;
}

function runStep(dir: string, inputs: Record<string, string>): Promise<Step> {
  const outputFile = join(dir, "..", `${dir.split("/").pop()}.output`);
  const summaryFile = `${outputFile}.summary`;
  writeFileSync(outputFile, "");
  writeFileSync(summaryFile, "");
  return new Promise((resolve) => {
    const child = spawn("bash", [SCRIPT], {
      cwd: dir,
      env: {
        ...process.env,
        NO_COLOR: "1",
        HF_TOKEN: "",
        HF_ENDPOINT: hub.hubUrl,
        MODELVET: BIN,
        GITHUB_OUTPUT: outputFile,
        GITHUB_STEP_SUMMARY: summaryFile,
        ...inputs,
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => {
      const outputs = Object.fromEntries(
        readFileSync(outputFile, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      );
      resolve({ code, stdout, stderr, outputs, summary: readFileSync(summaryFile, "utf8"), workspace: dir });
    });
  });
}

interface Sarif {
  runs: Array<{
    results: Array<{
      ruleId: string;
      level: string;
      locations: Array<{ physicalLocation: { artifactLocation: { uri: string } } }>;
    }>;
  }>;
}

function sarif(step: Step, name = "modelvet.sarif"): Sarif {
  const log = JSON.parse(readFileSync(join(step.workspace, name), "utf8")) as Sarif;
  expect(validateSarif(log), JSON.stringify(validateSarif.errors)).toBe(true);
  return log;
}

const uris = (log: Sarif, level = "error"): string[] => [
  ...new Set(
    log.runs[0]!.results.filter((r) => r.level === level).map(
      (r) => r.locations[0]!.physicalLocation.artifactLocation.uri,
    ),
  ),
];

describe("action scan step", () => {
  it("fails (exit 1) on a malicious pickle and writes SARIF naming it, with outputs and a summary", async () => {
    const dir = workspace({
      "models/evil.pkl": join(ROOT, "examples", "payload-getattr-chain.pkl"),
      "models/ok.pkl": join(ROOT, "examples", "benign-protocol2.pkl"),
    });
    const step = await runStep(dir, { INPUT_PATHS: "models" });
    expect(step.code, step.stderr).toBe(1);
    expect(uris(sarif(step))).toEqual(["models/evil.pkl"]);
    expect(sarif(step).runs[0]!.results.map((r) => r.ruleId)).toContain("deny-builtins-getattr");
    expect(step.outputs).toEqual({ "exit-code": "1", "sarif-file": "modelvet.sarif", "sarif-written": "true" });
    expect(step.stdout).toMatch(/^modelvet: 1 target\(s\) failed: findings at or above alert/m);
    expect(step.summary).toContain("failed: findings at or above alert");
  });

  it("passes (exit 0) on clean files and still writes the SARIF, with no error results", async () => {
    const dir = workspace({
      "a.pkl": join(ROOT, "examples", "benign-protocol2.pkl"),
      "weights dir/b.pkl": join(ADV, "string-mentions-only.pkl"),
    });
    // One target per line, a path with a space, a comment and blank lines.
    const step = await runStep(dir, {
      INPUT_PATHS: "a.pkl\n\n  # the second folder\n  weights dir  \n",
      INPUT_SARIF: "out/r.sarif",
    });
    expect(step.code, step.stderr).toBe(0);
    expect(uris(sarif(step, "out/r.sarif"))).toEqual([]);
    expect(step.outputs["exit-code"]).toBe("0");
    expect(step.stdout).toContain("2 target(s) passed");
  });

  it("fail-on warning fails on a Warning that fail-on alert lets through", async () => {
    const dir = workspace({ "odd.pkl": join(ADV, "unknown-opcode.pkl") });
    const lenient = await runStep(dir, { INPUT_PATHS: "odd.pkl", INPUT_FAIL_ON: "alert" });
    expect(lenient.code, lenient.stderr).toBe(0);
    expect(uris(sarif(lenient), "warning")).toEqual(["odd.pkl"]);
    const strict = await runStep(dir, { INPUT_PATHS: "odd.pkl", INPUT_FAIL_ON: "warning" });
    expect(strict.code, strict.stderr).toBe(1);
  });

  it("applies rules files: a team rule raising an indicator to Alert fails the step", async () => {
    const dir = workspace({ "odd.pkl": join(ADV, "unknown-opcode.pkl") });
    writeFileSync(
      join(dir, "team.json"),
      JSON.stringify({ indicators: [{ id: "pickle.unknown_opcode", severity: 3 }] }),
    );
    const step = await runStep(dir, { INPUT_PATHS: "odd.pkl", INPUT_RULES: "team.json\n" });
    expect(step.code, step.stderr).toBe(1);
    expect(uris(sarif(step))).toEqual(["odd.pkl"]);
    const broken = await runStep(dir, { INPUT_PATHS: "odd.pkl", INPUT_RULES: "missing-rules.json" });
    expect(broken.code).toBe(2);
  });

  it("scans a private hf:// repo with the token from the environment", async () => {
    const dir = workspace({});
    const step = await runStep(dir, { INPUT_PATHS: "hf://acme/private-weights", HF_TOKEN });
    expect(step.code, step.stderr).toBe(1);
    expect(uris(sarif(step)).some((u) => u.includes("model.bin"))).toBe(true);
    expect(readFileSync(join(dir, "modelvet.sarif"), "utf8") + step.stdout + step.stderr).not.toContain(HF_TOKEN);
    const anonymous = await runStep(dir, { INPUT_PATHS: "hf://acme/private-weights" });
    expect(anonymous.code).toBe(2);
    expect(anonymous.outputs["sarif-written"]).toBe("false"); // nothing stale is left to upload
    expect(existsSync(join(dir, "modelvet.sarif"))).toBe(false);
  });

  it("exits 2 on a missing path, empty paths or a bad fail-on, writing no SARIF", async () => {
    const dir = workspace({ "a.pkl": join(ROOT, "examples", "benign-protocol2.pkl") });
    const missing = await runStep(dir, { INPUT_PATHS: "a.pkl\nnot-there.pkl" });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("not-there.pkl");
    expect(missing.outputs).toMatchObject({ "exit-code": "2", "sarif-written": "false" });
    expect((await runStep(dir, { INPUT_PATHS: " \n# only a comment\n" })).code).toBe(2);
    const bad = await runStep(dir, { INPUT_PATHS: "a.pkl", INPUT_FAIL_ON: "pass" });
    expect([bad.code, bad.stderr.trim()]).toEqual([
      2,
      "modelvet action: fail-on must be 'alert' or 'warning', got 'pass'",
    ]);
  });
});

describe("action.yml", () => {
  interface Action {
    inputs: Record<string, { default?: string }>;
    runs: {
      using: string;
      steps: Array<{ id?: string; uses?: string; run?: string; env?: Record<string, string>; if?: string }>;
    };
  }
  const action = parse(readFileSync(join(ROOT, "action.yml"), "utf8")) as Action;

  it("is a composite action whose scan step runs the tested script with every input", () => {
    expect(action.runs.using).toBe("composite");
    expect(Object.keys(action.inputs)).toEqual(
      expect.arrayContaining(["paths", "fail-on", "rules", "token", "version"]),
    );
    const scan = action.runs.steps.find((s) => s.id === "scan")!;
    expect(scan.run).toContain('"$GITHUB_ACTION_PATH/scripts/action-scan.sh"');
    expect(scan.env).toEqual({
      INPUT_PATHS: "${{ inputs.paths }}",
      INPUT_FAIL_ON: "${{ inputs.fail-on }}",
      INPUT_RULES: "${{ inputs.rules }}",
      INPUT_SARIF: "${{ inputs.sarif-file }}",
      HF_TOKEN: "${{ inputs.token }}",
    });
    // The script reads exactly these variables (and the token only from the environment).
    const script = readFileSync(SCRIPT, "utf8");
    for (const name of Object.keys(scan.env!)) expect(script).toContain(name);
    expect(script).not.toContain("--token");
  });

  it("uploads the SARIF before failing, and pins the CLI version to this package's", () => {
    const uses = action.runs.steps.map((s) => s.uses ?? s.id ?? s.run?.split("\n")[0]);
    const upload = action.runs.steps.findIndex((s) => s.uses?.startsWith("github/codeql-action/upload-sarif@"));
    expect(upload, uses.join(", ")).toBeGreaterThan(action.runs.steps.findIndex((s) => s.id === "scan"));
    expect(action.runs.steps[upload]!.if).toContain("always()");
    expect(action.runs.steps.at(-1)!.run).toContain("exit");
    const cli = JSON.parse(readFileSync(join(ROOT, "packages", "cli", "package.json"), "utf8")) as { version: string };
    expect(String(action.inputs.version!.default)).toBe(cli.version);
  });
});
