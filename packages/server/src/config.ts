import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { hubSettingsFromEnv } from "@modelvet/engine";

/** Everything the service reads from its environment, resolved once at start-up. */
export interface ServiceConfig {
  /** 0 picks a free port (tests). */
  port: number;
  host: string;
  /** Folder for the SQLite file, the generated secret key file and the inventory cache. */
  dataDir: string;
  /** PostgreSQL connection string; unset means the embedded SQLite store and queue. */
  databaseUrl?: string;
  /** Base64 of 32 bytes; unset means a key file generated in `dataDir`. */
  secretKey?: string;
  bootstrapApiKey?: string;
  /** The Hub every scan reads from (HF_ENDPOINT). */
  hubEndpoint: string;
  /** Scans one process runs at once. */
  concurrency: number;
  /** Memory limit of a scan's process when the request names none. */
  defaultRamMegabytes: number;
  /** The sum of the memory limits of the scans one process runs at once; larger requests are refused. */
  maxScanMemoryMegabytes: number;
  /** A scan running longer than this fails (and, on pg-boss, the job expires). */
  jobTimeoutSeconds: number;
  /** How long a claimed job stays with its worker without a heartbeat (embedded lease, scale-out reaper). */
  leaseMs: number;
  /** How often an idle worker looks for jobs (it is also woken at once by jobs of its own process). */
  pollMs: number;
  /** pg-boss: how often expired jobs are retried (seconds). */
  maintenanceSeconds: number;
  /** Static web UI folder; served only when it exists. */
  webDir: string;
  /** false: no inventory cache. */
  cacheDir: string | false;
  /** Followed models: the default poll interval (a workspace may set its own), the look-up tick, Hub requests at
   * once, and whether this process polls at all (API processes do unless MODELVET_FOLLOW=off). */
  followIntervalSeconds: number;
  followTickMs: number;
  followConcurrency: number;
  follow: boolean;
  /** The web UI's address as people reach it; webhook events link to the model page there (else a path). */
  publicUrl?: string;
  /** MODELVET_WEBHOOKS_ALLOW_PRIVATE=1: outbound webhooks may target private, loopback and link-local addresses. */
  webhooksAllowPrivate: boolean;
  /** The wait before the first retry of a failed webhook delivery (doubling after each). */
  webhookRetryBaseMs: number;
  /** Attempts of one webhook delivery before it is given up. */
  webhookMaxAttempts: number;
  /** A webhook receiver must answer within this time. */
  webhookTimeoutMs: number;
  /** Webhook deliveries each process sends at once. */
  webhookConcurrency: number;
}

/** A start-up failure a person can act on (bad setting, database unreachable); the CLI prints just its message. */
export class StartupError extends Error {
  override readonly name = "StartupError";
}

const here = fileURLToPath(new URL(".", import.meta.url));

export function configFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<ServiceConfig> = {},
): ServiceConfig {
  const dataDir = resolve(overrides.dataDir ?? env.MODELVET_DATA_DIR ?? "./.modelvet");
  const config: ServiceConfig = {
    port: int(env.PORT, 8080, "PORT", 0),
    // Loopback unless asked: `--host 0.0.0.0` (or HOST) listens on every interface.
    host: env.HOST || "127.0.0.1",
    dataDir,
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    ...(env.MODELVET_SECRET_KEY ? { secretKey: env.MODELVET_SECRET_KEY } : {}),
    ...(env.MODELVET_BOOTSTRAP_API_KEY ? { bootstrapApiKey: env.MODELVET_BOOTSTRAP_API_KEY } : {}),
    hubEndpoint: hubSettingsFromEnv(env).endpoint,
    concurrency: int(env.MODELVET_CONCURRENCY, 2, "MODELVET_CONCURRENCY"),
    defaultRamMegabytes: int(env.MODELVET_DEFAULT_RAM_MB, 2048, "MODELVET_DEFAULT_RAM_MB", 128),
    maxScanMemoryMegabytes: int(env.MODELVET_MAX_SCAN_MEMORY_MB, 4096, "MODELVET_MAX_SCAN_MEMORY_MB", 128),
    // Range reads make scans of even large repos take seconds to minutes. A worker killed mid-scan is noticed by
    // its lapsed heartbeat (leaseMs), not by this timeout.
    jobTimeoutSeconds: int(env.MODELVET_JOB_TIMEOUT_SECONDS, 900, "MODELVET_JOB_TIMEOUT_SECONDS"),
    leaseMs: int(env.MODELVET_LEASE_MS, 30_000, "MODELVET_LEASE_MS"),
    pollMs: int(env.MODELVET_POLL_MS, 1000, "MODELVET_POLL_MS"),
    maintenanceSeconds: int(env.MODELVET_MAINTENANCE_SECONDS, 30, "MODELVET_MAINTENANCE_SECONDS"),
    webDir: resolve(env.MODELVET_WEB_DIR ?? defaultWebDir()),
    cacheDir: env.MODELVET_CACHE === "off" ? false : resolve(dataDir, "cache"),
    followIntervalSeconds: int(env.MODELVET_FOLLOW_INTERVAL_SECONDS, 900, "MODELVET_FOLLOW_INTERVAL_SECONDS"),
    followTickMs: int(env.MODELVET_FOLLOW_TICK_MS, 5000, "MODELVET_FOLLOW_TICK_MS", 50),
    followConcurrency: int(env.MODELVET_FOLLOW_CONCURRENCY, 4, "MODELVET_FOLLOW_CONCURRENCY"),
    follow: env.MODELVET_FOLLOW !== "off",
    ...(env.MODELVET_PUBLIC_URL ? { publicUrl: env.MODELVET_PUBLIC_URL } : {}),
    webhooksAllowPrivate: env.MODELVET_WEBHOOKS_ALLOW_PRIVATE === "1",
    webhookRetryBaseMs: int(env.MODELVET_WEBHOOK_RETRY_BASE_MS, 30_000, "MODELVET_WEBHOOK_RETRY_BASE_MS", 10),
    webhookMaxAttempts: int(env.MODELVET_WEBHOOK_MAX_ATTEMPTS, 6, "MODELVET_WEBHOOK_MAX_ATTEMPTS"),
    webhookTimeoutMs: int(env.MODELVET_WEBHOOK_TIMEOUT_MS, 10_000, "MODELVET_WEBHOOK_TIMEOUT_MS", 100),
    webhookConcurrency: int(env.MODELVET_WEBHOOK_CONCURRENCY, 4, "MODELVET_WEBHOOK_CONCURRENCY"),
  };
  const merged = { ...config, ...overrides };
  if (merged.leaseMs > 30_000)
    throw new StartupError(`MODELVET_LEASE_MS must be at most 30000 (a dead worker's job moves on within 30 s)`);
  if (merged.defaultRamMegabytes > merged.maxScanMemoryMegabytes)
    throw new StartupError(
      `MODELVET_DEFAULT_RAM_MB (${merged.defaultRamMegabytes}) is more than MODELVET_MAX_SCAN_MEMORY_MB (${merged.maxScanMemoryMegabytes})`,
    );
  if (merged.webhookConcurrency > 32) throw new StartupError("MODELVET_WEBHOOK_CONCURRENCY must be at most 32");
  if (merged.webhookMaxAttempts > 20)
    throw new StartupError("MODELVET_WEBHOOK_MAX_ATTEMPTS must be at most 20 (retries double their wait each time)");
  return merged;
}

/** The web UI beside the server in the repository (fresh from `npm run build`), else the copy packed inside it. */
function defaultWebDir(): string {
  const inRepo = resolve(here, "../../web/dist");
  return existsSync(inRepo) ? inRepo : resolve(here, "../web");
}

function int(value: string | undefined, fallback: number, name: string, min = 1): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new StartupError(`${name} must be a whole number of at least ${min}, not "${value}"`);
  return n;
}
