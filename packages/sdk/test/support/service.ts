import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
const CLI = join(REPO_ROOT, "packages/cli/bin/modelvet.js");

export interface RunningService {
  url: string;
  apiKey: string;
  /** Everything the process wrote to stdout and stderr so far. */
  logs(): string;
  stop(): Promise<void>;
}

/** A port nobody listens on right now (the service refuses PORT=0, so the test picks one). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts the service the way `npm start` does (`modelvet serve`) on a free loopback port with a fresh data folder
 * and a bootstrap admin key, and waits for /healthz. Hub tokens are taken out of its environment, so a private repo
 * can only be read through an integration.
 */
export async function startService(env: Record<string, string> = {}): Promise<RunningService> {
  if (!existsSync(join(REPO_ROOT, "packages/server/dist/index.js"))) {
    throw new Error("packages/server is not built (or not written yet): run `npm run build` first");
  }
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "modelvet-sdk-service-"));
  const apiKey = `mv_sdk_test_${Math.random().toString(36).slice(2)}`;
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    HOST: "127.0.0.1",
    MODELVET_DATA_DIR: dataDir,
    MODELVET_BOOTSTRAP_API_KEY: apiKey,
    MODELVET_POLL_MS: "100",
    ...env,
  };
  for (const name of ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_API_TOKEN", "DATABASE_URL"]) {
    if (!(name in env)) delete childEnv[name];
  }
  const child = spawn(process.execPath, [CLI, "serve"], { cwd: REPO_ROOT, env: childEnv, stdio: "pipe" });
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    await kill(child);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForHealth(url, child, () => output);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, apiKey, logs: () => output, stop };
}

async function waitForHealth(url: string, child: ChildProcess, logs: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`modelvet serve exited with ${child.exitCode}:\n${logs()}`);
    try {
      if ((await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`modelvet serve did not answer /healthz within 30 s:\n${logs()}`);
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
