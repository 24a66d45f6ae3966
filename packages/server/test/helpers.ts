import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { configFromEnv, createLogger, startService, type Service, type ServiceConfig } from "@modelvet/server";
import { FakeHub, smallFile } from "../../engine/test/support/hub-server.js";

export const ROOT = new URL("../../../", import.meta.url).pathname;
export const ADMIN_KEY = "mv_test-admin-key-0123456789abcdefghij";
export const SECRET_KEY = randomBytes(32).toString("base64");
export const PG_ADMIN_URL = process.env.MODELVET_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export function fixture(name: string): Buffer {
  return readFileSync(new URL(`../../engine/test/fixtures/${name}`, import.meta.url));
}

export const SHA = "a".repeat(40);
export const PRIVATE_SHA = "b".repeat(40);
export const HUB_TOKEN = "hf_private-token-never-leaks-7f3a9c";

/** A Hub with a public payload model, a private one (needs HUB_TOKEN) and a benign one. */
export async function startHub(): Promise<FakeHub> {
  const hub = new FakeHub();
  hub.addRepo({
    id: "acme/payload",
    refs: { main: SHA },
    commits: { [SHA]: [smallFile("model.pkl", fixture("adversarial/o6-inst.pkl"), { lfs: true })] },
  });
  hub.addRepo({
    id: "acme/private",
    private: true,
    token: HUB_TOKEN,
    refs: { main: PRIVATE_SHA },
    commits: { [PRIVATE_SHA]: [smallFile("weights.pkl", fixture("adversarial/o6-inst.pkl"), { lfs: true })] },
  });
  hub.addRepo({
    id: "acme/benign",
    refs: { main: SHA },
    commits: { [SHA]: [smallFile("config.json", Buffer.from('{"model_type": "tiny"}'))] },
  });
  await hub.start();
  return hub;
}

/** A fresh PostgreSQL database for one test file, or undefined when no server answers. */
export async function createPgDatabase(): Promise<{ url: string; drop(): Promise<void> } | undefined> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
  } catch {
    if (process.env.CI) throw new Error(`PostgreSQL is required in CI but ${PG_ADMIN_URL} does not answer`);
    return undefined;
  }
  const name = `modelvet_test_${randomBytes(6).toString("hex")}`;
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    drop: async () => {
      const client = new pg.Client({ connectionString: PG_ADMIN_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "modelvet-server-"));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Captures every log line the service writes. */
export class LogCapture {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
  get text(): string {
    return this.lines.join("");
  }
}

export interface TestService {
  service: Service;
  logs: LogCapture;
  config: ServiceConfig;
}

export async function startTestService(options: {
  dataDir: string;
  databaseUrl?: string;
  hubUrl: string;
  worker?: boolean;
  webDir?: string;
  /** Extra settings; the poller of followed models is off unless MODELVET_FOLLOW is given. */
  env?: Record<string, string>;
}): Promise<TestService> {
  const env = {
    MODELVET_BOOTSTRAP_API_KEY: ADMIN_KEY,
    MODELVET_SECRET_KEY: SECRET_KEY,
    HF_ENDPOINT: options.hubUrl,
    MODELVET_POLL_MS: "200",
    MODELVET_LEASE_MS: "2000",
    MODELVET_MAINTENANCE_SECONDS: "1",
    MODELVET_CONCURRENCY: "2",
    MODELVET_CACHE: "off",
    MODELVET_FOLLOW: "off",
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
    ...options.env,
  };
  const config = configFromEnv(env, {
    dataDir: options.dataDir,
    ...(options.webDir ? { webDir: options.webDir } : {}),
  });
  const logs = new LogCapture();
  const logger = createLogger({ level: "debug", stream: logs });
  const service = await startService({ config, logger, http: true, worker: options.worker ?? true });
  return { service, logs, config };
}

export type Answer = { status: number; body: Record<string, unknown>; text: string };

/** A `modelvet` process (the built CLI) whose JSON log lines are collected. */
export class CliProcess {
  readonly child: ChildProcess;
  readonly logs: Array<Record<string, unknown>> = [];
  stdout = "";
  stderr = "";

  constructor(args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [join(ROOT, "packages/cli/bin/modelvet.js"), ...args], {
      env: { ...process.env, HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let partial = "";
    this.child.stdout!.on("data", (chunk: Buffer) => {
      this.stdout += chunk.toString();
      const lines = (partial + chunk.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        if (line.startsWith("{")) this.logs.push(JSON.parse(line) as Record<string, unknown>);
      }
    });
    this.child.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  /** Log entries with this message. */
  logged(msg: string): Array<Record<string, unknown>> {
    return this.logs.filter((l) => l.msg === msg);
  }

  async waitForLog(msg: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    await waitUntil(
      () => {
        if (this.child.exitCode !== null) throw new Error(`exited before "${msg}": ${this.stdout}${this.stderr}`);
        return this.logged(msg).length > 0;
      },
      timeoutMs,
      () => `${msg}: ${this.stdout}${this.stderr}`,
    );
    return this.logged(msg)[0]!;
  }

  kill(signal: NodeJS.Signals): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once("exit", () => resolve());
      this.child.kill(signal);
    });
  }
}

/**
 * `modelvet` processes (the built CLI) sharing one data folder and, with `databaseUrl`, one PostgreSQL database,
 * reading the Hub at `hubUrl` with the bootstrap admin key; `stop()` kills them all and removes the folder.
 */
export class CliCluster {
  readonly dataDir = tempDir();
  readonly processes: CliProcess[] = [];

  constructor(private readonly options: { hubUrl: string; databaseUrl?: string; env?: Record<string, string> }) {}

  cli(args: string[]): CliProcess {
    const p = new CliProcess(args, {
      ...(this.options.databaseUrl ? { DATABASE_URL: this.options.databaseUrl } : {}),
      HF_ENDPOINT: this.options.hubUrl,
      MODELVET_BOOTSTRAP_API_KEY: ADMIN_KEY,
      MODELVET_SECRET_KEY: SECRET_KEY,
      MODELVET_DATA_DIR: this.dataDir,
      MODELVET_CACHE: "off",
      ...this.options.env,
    });
    this.processes.push(p);
    return p;
  }

  /** `modelvet serve` on a free port (`--no-worker` unless `withWorker`), once it serves, and a client for it. */
  async startServer(withWorker = false): Promise<{ server: CliProcess; api: ReturnType<typeof httpClient> }> {
    const server = this.cli(["serve", ...(withWorker ? [] : ["--no-worker"]), "--port", "0"]);
    const api = httpClient((await server.waitForLog("modelvet serving")).url as string, ADMIN_KEY);
    return { server, api };
  }

  /** `count` worker processes running `concurrency` scans each, once each says it runs. */
  async startWorkers(count: number, concurrency: number): Promise<CliProcess[]> {
    const pool = Array.from({ length: count }, () => this.cli(["worker", "--concurrency", String(concurrency)]));
    await Promise.all(pool.map((w) => w.waitForLog("modelvet worker running")));
    return pool;
  }

  async stop(): Promise<void> {
    for (const p of this.processes) await p.kill("SIGKILL");
    removeDir(this.dataDir);
  }
}

export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A small HTTP client for a running service. */
export function httpClient(base: string, key: string) {
  return async (method: string, path: string, payload?: unknown): Promise<Answer> => {
    const response = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(payload ? { "content-type": "application/json" } : {}) },
      ...(payload ? { body: JSON.stringify(payload) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: JSON.parse(text) as Record<string, unknown>, text };
  };
}

/** Registers workspace → project → model for acme/payload; returns what a scan needs. */
export async function registerPayloadModel(
  api: ReturnType<typeof httpClient>,
): Promise<{ projectId: string; modelId: string }> {
  const ws = await api("POST", "/workspaces", { name: "w" });
  const project = await api("POST", "/projects", { name: "p", workspace_id: ws.body.workspace_id });
  const model = await api("POST", `/projects/${String(project.body.project_id)}/models`, {
    name: "m",
    model_config: { hugging_face: { model_uri: "acme/payload" } },
  });
  if (model.status !== 201) throw new Error(model.text);
  return { projectId: project.body.project_id as string, modelId: model.body.model_id as string };
}
