import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeHub, smallFile } from "../../engine/test/support/hub-server.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const BIN = join(ROOT, "node_modules", ".bin", "modelvet");
const ADV = join(ROOT, "packages", "engine", "test", "fixtures", "adversarial");
const SHA = "e".repeat(40);
const TOKEN = "hf_cli_token";
const hub = new FakeHub();

beforeAll(async () => {
  await hub.start();
  hub.addRepo({
    id: "acme/public",
    refs: { main: SHA },
    commits: { [SHA]: [smallFile("model.pkl", readFileSync(join(ADV, "o6-inst.pkl")), { lfs: true })] },
  });
  hub.addRepo({
    id: "acme/private",
    private: true,
    token: TOKEN,
    refs: { main: SHA },
    commits: { [SHA]: [smallFile("model.pkl", readFileSync(join(ADV, "o6-inst.pkl")))] },
  });
});
afterAll(() => hub.stop());

/** Runs the CLI asynchronously (the test server lives in this process). */
function modelvet(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(BIN, args, {
      env: { ...process.env, NO_COLOR: "1", HF_TOKEN: "", HF_ENDPOINT: hub.hubUrl, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("modelvet scan hf://", () => {
  it("scans a repo at HF_ENDPOINT, naming the commit", async () => {
    const cache = mkdtempSync(join(tmpdir(), "modelvet-cli-cache-"));
    const run = await modelvet(["scan", "--cache-dir", cache, "hf://acme/public"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`hf://acme/public: acme/public at commit ${SHA}`);
    expect(run.stdout).toMatch(/ALERT\s+hf:\/\/acme\/public@eeeeeeeeeeee\/model\.pkl \[pickle\]/);
    const again = await modelvet(["scan", "--cache-dir", cache, "hf://acme/public"]);
    expect(again.stdout).toContain("(cached)");
    expect(again.stdout).toContain("(1 from cache)");
  });

  it("fails with exit 2 and a clear message for a private repo without a token", async () => {
    const run = await modelvet(["scan", "--no-cache", "hf://acme/private"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      "modelvet: hf://acme/private@main: not found or not authorised (HTTP 401): set HF_TOKEN (or --token) if it is private or gated\n",
    );
    expect(run.stdout).toBe("");
  });

  it("scans the private repo with HF_TOKEN or --token", async () => {
    expect((await modelvet(["scan", "--no-cache", "hf://acme/private"], { HF_TOKEN: TOKEN })).code).toBe(1);
    expect((await modelvet(["scan", "--no-cache", "--token", TOKEN, "hf://acme/private"])).code).toBe(1);
  });

  it("accepts Hub URLs and --revision", async () => {
    const run = await modelvet([
      "scan",
      "--no-cache",
      "--format",
      "json",
      "--revision",
      SHA,
      `${hub.hubUrl}/acme/public`,
    ]);
    const report = JSON.parse(run.stdout) as { targets: Array<{ commit: string; revision: string }> };
    expect(report.targets[0]).toMatchObject({ commit: SHA, revision: SHA });
  });
});
