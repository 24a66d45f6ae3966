import { spawn } from "node:child_process";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { FakeHub } from "../../engine/test/support/hub-server.js";
import { CliProcess, httpClient, removeDir, ROOT, SECRET_KEY, startHub, tempDir } from "./helpers.js";

/**
 * The service's edges through its public surface, the built `modelvet` command: where `serve` listens, the
 * admin key rotation against the data folder, and names (revisions, repo ids, Hub URLs) refused before any Hub call.
 */

let hub: FakeHub;
const dirs: string[] = [];
const processes: CliProcess[] = [];

beforeAll(async () => {
  hub = await startHub();
});

afterAll(async () => {
  for (const p of processes) await p.kill("SIGKILL");
  await hub.stop();
  for (const d of dirs) removeDir(d);
});

function serve(args: string[], env: Record<string, string> = {}): CliProcess {
  const dataDir = tempDir();
  dirs.push(dataDir);
  const p = new CliProcess(["serve", "--port", "0", ...args], {
    HF_ENDPOINT: hub.hubUrl,
    MODELVET_SECRET_KEY: SECRET_KEY,
    MODELVET_DATA_DIR: dataDir,
    MODELVET_CACHE: "off",
    // No poller: the tests count Hub requests.
    MODELVET_FOLLOW: "off",
    ...env,
  });
  processes.push(p);
  return p;
}

/** Runs the CLI to its end. */
function modelvet(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, "packages/cli/bin/modelvet.js"), ...args], {
      env: { ...process.env, HF_ENDPOINT: hub.hubUrl, ...env },
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.on("exit", (code) => resolve({ code: code ?? -1, out, err }));
  });
}

/** Whether a TCP connection to host:port is accepted. */
async function answers(host: string, port: string): Promise<boolean> {
  try {
    await fetch(`http://${host}:${port}/healthz`, { signal: AbortSignal.timeout(3000) });
    return true;
  } catch {
    return false;
  }
}

const externalAddress = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === "IPv4" && !a.internal)?.address;

describe("where serve listens", () => {
  test("by default on 127.0.0.1 only", async () => {
    // HOST empty: the default applies (CliProcess would otherwise pass HOST=127.0.0.1).
    const server = serve([], { HOST: "" });
    const url = new URL((await server.waitForLog("modelvet serving")).url as string);
    expect(url.hostname).toBe("127.0.0.1");
    expect(await answers("127.0.0.1", url.port)).toBe(true);
    if (externalAddress) expect(await answers(externalAddress, url.port)).toBe(false);
    await server.kill("SIGTERM");
  });

  test.skipIf(!externalAddress)("--host 0.0.0.0 and HOST=0.0.0.0 listen on every interface", async () => {
    for (const server of [serve(["--host", "0.0.0.0"], { HOST: "" }), serve([], { HOST: "0.0.0.0" })]) {
      const url = new URL((await server.waitForLog("modelvet serving")).url as string);
      expect(await answers(externalAddress!, url.port)).toBe(true);
      await server.kill("SIGTERM");
    }
  });
});

test("modelvet admin rotate-key: the old admin key stops working at once, the new one works", async () => {
  const server = serve([]);
  const url = (await server.waitForLog("modelvet serving")).url as string;
  const first = /^ {2}(mv_\S+)$/m.exec(server.stdout)?.[1];
  expect(first).toBeDefined();
  expect((await httpClient(url, first!)("GET", "/workspaces")).status).toBe(200);

  const dataDir = dirs.at(-1)!;
  const rotated = await modelvet(["admin", "rotate-key", "--data-dir", dataDir], { MODELVET_SECRET_KEY: SECRET_KEY });
  expect(rotated.code).toBe(0);
  expect(rotated.out).toMatch(/1 admin key\(s\) revoked/);
  const second = /^ {2}(mv_\S+)$/m.exec(rotated.out)?.[1];
  expect(second).toBeDefined();
  expect(second).not.toBe(first);

  // The running server reads keys from the same store: no restart needed.
  expect((await httpClient(url, first!)("GET", "/workspaces")).status).toBe(401);
  expect((await httpClient(url, second!)("GET", "/workspaces")).status).toBe(200);
  await server.kill("SIGTERM");

  // And after a restart on the same data folder: still the new key only, and no new key generated.
  const again = new CliProcess(["serve", "--port", "0", "--data-dir", dataDir], {
    HF_ENDPOINT: hub.hubUrl,
    MODELVET_SECRET_KEY: SECRET_KEY,
    MODELVET_CACHE: "off",
  });
  processes.push(again);
  const url2 = (await again.waitForLog("modelvet serving")).url as string;
  expect(again.stdout).not.toMatch(/admin key was created/);
  expect((await httpClient(url2, first!)("GET", "/workspaces")).status).toBe(401);
  expect((await httpClient(url2, second!)("GET", "/workspaces")).status).toBe(200);
  await again.kill("SIGTERM");
});

test("modelvet admin rotate-key on a folder with no store fails in one line, exit 2", async () => {
  const empty = tempDir();
  dirs.push(empty);
  const run = await modelvet(["admin", "rotate-key", "--data-dir", empty]);
  expect(run.code).toBe(2);
  expect(run.err.trim().split("\n")).toHaveLength(1);
  expect(run.err).toMatch(/no modelvet data in .*--data-dir/);
});

describe("names the Hub would not accept", () => {
  const BAD_REVISIONS = ["..", ".", "a/../b", "a//b", "/main", "main/", "%2e%2e", "ma%2Fin", "ma\u0001in", "ma\tin"];

  test("the API answers 400 for each bad revision and repo id, and the Hub is never asked", async () => {
    const server = serve([]);
    const url = (await server.waitForLog("modelvet serving")).url as string;
    const key = /^ {2}(mv_\S+)$/m.exec(server.stdout)![1]!;
    const api = httpClient(url, key);
    const ws = await api("POST", "/workspaces", { name: "w" });
    const project = await api("POST", "/projects", { name: "p", workspace_id: ws.body.workspace_id });
    const models = `/projects/${String(project.body.project_id)}/models`;
    hub.resetStats();
    for (const revision of [...BAD_REVISIONS, ""]) {
      const answer = await api("POST", models, {
        name: "m",
        model_config: { hugging_face: { model_uri: "acme/payload", revision } },
      });
      expect(answer.status, JSON.stringify(revision)).toBe(400);
      expect(answer.body.message, JSON.stringify(revision)).toMatch(/revision/i);
    }
    for (const uri of ["acme/../payload", "acme/./payload", "acme//payload", "acme/%2e%2e", "acme/pay\u0000load"]) {
      const answer = await api("POST", models, { name: "m", model_config: { hugging_face: { model_uri: uri } } });
      expect(answer.status, JSON.stringify(uri)).toBe(400);
    }
    // A good one is accepted, and editing it to a bad revision is refused too.
    const good = await api("POST", models, {
      name: "m",
      model_config: { hugging_face: { model_uri: "acme/payload", revision: "refs/pr/1" } },
    });
    expect(good.status).toBe(201);
    const edited = await api("PATCH", `/models/${String(good.body.model_id)}`, {
      model_config: { hugging_face: { model_uri: "acme/payload", revision: ".." } },
    });
    expect(edited.status).toBe(400);
    expect(hub.stats.requests).toHaveLength(0);
    await server.kill("SIGTERM");
  });

  test("the CLI exits 2 with a one-line error for bad hf:// targets, Hub URLs and --revision values", async () => {
    const targets = [
      "hf://org/../x",
      "hf://org/./x",
      "hf://org//x",
      "hf://org/x%2e%2e",
      "hf://org/x@..",
      "hf://org/x@a//b",
      "https://huggingface.co/org/../x",
      "https://huggingface.co/org/x/tree/%2e%2e",
    ];
    const revisions = ["..", ".", "a//b", "%2e%2e", "ma\u0001in", "main/"];
    const runs = [
      ...targets.map((t) => [t, ["scan", "--no-cache", t]] as const),
      ...revisions.map(
        (r) =>
          [`--revision ${JSON.stringify(r)}`, ["scan", "--no-cache", "--revision", r, "hf://acme/payload"]] as const,
      ),
    ];
    hub.resetStats();
    for (const [what, args] of runs) {
      const run = await modelvet([...args]);
      expect(run.code, what).toBe(2);
      const lines = run.err.trim().split("\n");
      expect(lines, what).toHaveLength(1);
      expect(lines[0], what).toMatch(/^modelvet: .*(revision|repo id|URL path|empty segment)/);
      expect(run.out, what).toBe("");
    }
    expect(hub.stats.requests).toHaveLength(0);
  });
});
