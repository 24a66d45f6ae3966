import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";

/**
 * The pre-commit hook (.pre-commit-hooks.yaml) as a user gets it: a hook repo holding the hook definition and its
 * script (copied from this checkout and committed, so uncommitted edits are tested too), a project whose
 * .pre-commit-config.yaml names that repo at a commit, `pre-commit install`, then real `git commit`s. The scanner is
 * `modelvet` on PATH, as after `npm i -g @modelvet/cli`. Runs with Debian's pre-commit (/usr/bin/pre-commit).
 */
const ROOT = join(import.meta.dirname, "..", "..", "..");
const ADV = join(ROOT, "packages", "engine", "test", "fixtures", "adversarial");
const PRE_COMMIT = ["/usr/bin/pre-commit", "pre-commit"].find((c) => spawnSync(c, ["--version"]).status === 0);
const NO_PRE_COMMIT = "skipped: pre-commit is not installed (apt-get install pre-commit)";

let base = "";
let project = "";
const env = (): NodeJS.ProcessEnv => ({
  ...process.env,
  NO_COLOR: "1",
  PATH: `${join(ROOT, "node_modules", ".bin")}${delimiter}${process.env.PATH ?? ""}`,
  PRE_COMMIT_HOME: join(base, "cache"),
  GIT_CONFIG_GLOBAL: join(base, "gitconfig"),
  GIT_CONFIG_NOSYSTEM: "1",
  MODELVET: "",
});

function sh(cmd: string, args: string[], cwd: string): { code: number | null; out: string } {
  const run = spawnSync(cmd, args, { cwd, env: env(), encoding: "utf8", timeout: 120_000 });
  return { code: run.status, out: `${run.stdout}${run.stderr}` };
}
const git = (cwd: string, ...args: string[]): { code: number | null; out: string } => sh("git", args, cwd);

beforeAll(() => {
  if (!PRE_COMMIT) return;
  base = mkdtempSync(join(tmpdir(), "modelvet-pre-commit-"));
  writeFileSync(
    join(base, "gitconfig"),
    "[user]\n\tname = Test\n\temail = test@example.invalid\n[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n",
  );
  // The hook repo: what pre-commit clones from the project's config.
  const hooks = join(base, "hooks");
  mkdirSync(join(hooks, "scripts"), { recursive: true });
  copyFileSync(join(ROOT, ".pre-commit-hooks.yaml"), join(hooks, ".pre-commit-hooks.yaml"));
  copyFileSync(join(ROOT, "scripts", "pre-commit-scan.sh"), join(hooks, "scripts", "pre-commit-scan.sh"));
  git(hooks, "init", "-q");
  git(hooks, "add", ".");
  git(hooks, "update-index", "--chmod=+x", "scripts/pre-commit-scan.sh");
  git(hooks, "commit", "-qm", "hooks");
  const rev = git(hooks, "rev-parse", "HEAD").out.trim();

  project = join(base, "project");
  mkdirSync(project);
  git(project, "init", "-q");
  writeFileSync(
    join(project, ".pre-commit-config.yaml"),
    `repos:\n  - repo: ${hooks}\n    rev: ${rev}\n    hooks:\n      - id: modelvet\n`,
  );
  git(project, "add", ".pre-commit-config.yaml");
  git(project, "commit", "-qm", "config");
  const installed = sh(PRE_COMMIT, ["install"], project);
  if (installed.code !== 0) throw new Error(installed.out);
});
afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

/** Stages the files (name in the project → source) and commits; returns git's exit code and everything printed. */
function commit(files: Record<string, string>, message: string): { code: number | null; out: string; head: string } {
  for (const [name, source] of Object.entries(files)) {
    mkdirSync(join(project, name, ".."), { recursive: true });
    copyFileSync(source, join(project, name));
    git(project, "add", "--", name);
  }
  const run = git(project, "commit", "-m", message);
  return { ...run, head: git(project, "log", "-1", "--format=%s").out.trim() };
}

describe("pre-commit hook", () => {
  it("refuses a commit adding a malicious pickle, naming the file and its import", (ctx) => {
    if (!PRE_COMMIT) return ctx.skip(NO_PRE_COMMIT);
    const run = commit({ "models/evil.pkl": join(ROOT, "examples", "payload-getattr-chain.pkl") }, "add evil");
    expect(run.code, run.out).not.toBe(0);
    expect(run.out).toMatch(/modelvet \(scan model files.*Failed/);
    expect(run.out).toMatch(/ALERT\s+models\/evil\.pkl/);
    expect(run.out).toContain("os.system");
    expect(run.head).toBe("config"); // nothing was committed
    git(project, "rm", "-q", "--cached", "models/evil.pkl");
    rmSync(join(project, "models"), { recursive: true });
  });

  it("refuses a checkpoint under another model extension, in any case (.BIN)", (ctx) => {
    if (!PRE_COMMIT) return ctx.skip(NO_PRE_COMMIT);
    const run = commit({ "weights/pytorch_model.BIN": join(ADV, "o6-inst.pkl") }, "add checkpoint");
    expect(run.code, run.out).not.toBe(0);
    expect(run.out).toMatch(/ALERT\s+weights\/pytorch_model\.BIN/);
    expect(run.head).toBe("config");
    git(project, "rm", "-q", "--cached", "weights/pytorch_model.BIN");
    rmSync(join(project, "weights"), { recursive: true });
  });

  it("lets a clean model commit through, and skips a commit without model files", (ctx) => {
    if (!PRE_COMMIT) return ctx.skip(NO_PRE_COMMIT);
    const clean = commit(
      {
        "models/ok.pkl": join(ROOT, "examples", "benign-protocol2.pkl"),
        "models/plain.pkl": join(ADV, "string-mentions-only.pkl"),
      },
      "add clean models",
    );
    expect(clean.code, clean.out).toBe(0);
    expect(clean.out).toMatch(/modelvet \(scan model files.*Passed/);
    expect(clean.head).toBe("add clean models");

    writeFileSync(join(base, "notes.md"), "# notes\n");
    const docs = commit({ "notes.md": join(base, "notes.md") }, "add notes");
    expect(docs.code, docs.out).toBe(0);
    expect(docs.out).toMatch(/modelvet \(scan model files.*\(no files to check\)Skipped/);
  });

  it("refuses a truncated pickle (a Warning) once the hook's args say --fail-on warning", (ctx) => {
    if (!PRE_COMMIT) return ctx.skip(NO_PRE_COMMIT);
    const config = join(project, ".pre-commit-config.yaml");
    const before = readFileSync(config, "utf8");
    writeFileSync(config, `${before}        args: [--fail-on, warning]\n`);
    git(project, "add", ".pre-commit-config.yaml");
    const run = commit({ "odd.pkl": join(ADV, "truncated-header.pkl") }, "add odd");
    expect(run.code, run.out).not.toBe(0);
    expect(run.out).toMatch(/WARNING\s+odd\.pkl/);
    expect(run.head).toBe("add notes");
  });
});

describe(".pre-commit-hooks.yaml", () => {
  interface Hook {
    id: string;
    entry: string;
    language: string;
    files: string;
  }
  const [hook] = parse(readFileSync(join(ROOT, ".pre-commit-hooks.yaml"), "utf8")) as Hook[];

  it("selects model files by extension, and not source or docs", () => {
    // pre-commit matches with Python's re.search; this pattern means the same in JavaScript once (?i) is a flag.
    const re = new RegExp(hook!.files.replace(/^\(\?i\)/, ""), "i");
    const models = ["a.pkl", "m/pytorch_model.bin", "x.PT", "w.safetensors", "q.gguf", "k.keras", "n.npz", "o.onnx"];
    const others = ["README.md", "setup.py", "pkl.txt", "config.json", "model.bin.md", "data.csv"];
    expect(models.filter((f) => !re.test(f))).toEqual([]);
    expect(others.filter((f) => re.test(f))).toEqual([]);
    expect(re.test("tok/tokenizer_config.json")).toBe(true);
  });

  it("runs the committed script, which pins the CLI version to this package's", () => {
    expect([hook!.id, hook!.language, hook!.entry]).toEqual(["modelvet", "script", "scripts/pre-commit-scan.sh"]);
    const cli = JSON.parse(readFileSync(join(ROOT, "packages", "cli", "package.json"), "utf8")) as { version: string };
    expect(readFileSync(join(ROOT, "scripts", "pre-commit-scan.sh"), "utf8")).toContain(`VERSION=${cli.version}\n`);
    const mode = spawnSync("git", ["ls-files", "-s", "scripts/pre-commit-scan.sh"], { cwd: ROOT, encoding: "utf8" });
    expect(mode.stdout).toMatch(/^100755 /); // pre-commit runs a `script` entry directly
  });
});
