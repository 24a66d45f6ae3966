import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import { loadClassifier } from "@modelvet/engine";
import type { Logger } from "pino";
import { StartupError, type ServiceConfig } from "./config.js";
import { openDb, type Db } from "./db/connect.js";
import { buildApp, type App } from "./http/app.js";
import { EmbeddedQueue } from "./jobs/embedded-queue.js";
import { FollowPoller } from "./jobs/follow-poller.js";
import { PgBossQueue } from "./jobs/pgboss-queue.js";
import type { JobQueue } from "./jobs/queue.js";
import { ScanRunner } from "./jobs/scan-runner.js";
import { WebhookDispatcher } from "./jobs/webhook-dispatcher.js";
import { SecretBox } from "./security/secret-box.js";
import { rejudgeLatest } from "./store/rejudge.js";
import { classifierFor } from "./store/workspace-rules.js";
import { countApiKeys, createApiKey } from "./store/workspaces.js";

export interface Service {
  app?: App;
  db: Db;
  queue: JobQueue;
  /** The admin key generated at this start, if one was (printed once by the CLI). */
  generatedAdminKey?: string;
  close(): Promise<void>;
}

export interface ServiceOptions {
  config: ServiceConfig;
  logger: Logger;
  /** Take HTTP requests. */
  http: boolean;
  /** Run scans in this process (`serve` without --no-worker, or `worker`). */
  worker: boolean;
}

/** Opens the store and queue, and starts the API and/or the scan workers. Does not listen: see `listen`. */
export async function startService(options: ServiceOptions): Promise<Service> {
  const { config, logger } = options;
  const db = await openDb(config);
  const owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  let queue: JobQueue | undefined;
  let poller: FollowPoller | undefined;
  let dispatcher: WebhookDispatcher | undefined;
  try {
    const box = SecretBox.load(config);
    queue = await openQueue(config, db, owner, logger);
    const generatedAdminKey = await bootstrapAdminKey(db, config);
    const service: Service = {
      db,
      queue,
      ...(generatedAdminKey ? { generatedAdminKey } : {}),
      close: async () => {
        await poller?.stop();
        await dispatcher?.stop();
        await service.app?.close();
        await queue?.stop();
        await db.close();
      },
    };
    if (options.worker) {
      const runner = new ScanRunner({
        ...config,
        db: db.kysely,
        box,
        log: logger,
        workerName: owner,
        heartbeatMs: Math.max(100, Math.floor(config.leaseMs / 3)),
        ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
      });
      await queue.work(runner.handle, config.concurrency);
    }
    if (options.http) {
      const classifier = await loadClassifier();
      service.app = await buildApp({
        services: {
          db: db.kysely,
          box,
          queue,
          classifier,
          maxScanMemoryMegabytes: config.maxScanMemoryMegabytes,
          hubEndpoint: config.hubEndpoint,
          followIntervalSeconds: config.followIntervalSeconds,
          webhooksAllowPrivate: config.webhooksAllowPrivate,
          ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
        },
        logger,
        webDir: config.webDir,
      });
      // Results judged by another rules pack (this server was upgraded) are judged again, in the background.
      const events = config.publicUrl ? { publicUrl: config.publicUrl } : {};
      void rejudgeLatest(db.kysely, (ws) => classifierFor(db.kysely, classifier, ws), undefined, events).then(
        (r) => r.rejudged > 0 && logger.info({ ...r, rules_version: classifier.version }, "results judged again"),
        (e: unknown) => logger.warn({ err: e }, "cannot judge stored results again"),
      );
      // API processes watch followed models; `worker` processes only scan.
      if (config.follow) {
        poller = new FollowPoller({
          db: db.kysely,
          box,
          queue,
          log: logger,
          hubEndpoint: config.hubEndpoint,
          rulesVersion: classifier.version,
          intervalSeconds: config.followIntervalSeconds,
          tickMs: config.followTickMs,
          concurrency: config.followConcurrency,
        });
        poller.start();
      }
    }
    // Every process delivers webhook events (each claimed under a lease in the database, so never sent twice).
    dispatcher = new WebhookDispatcher({
      db: db.kysely,
      box,
      log: logger,
      owner,
      pollMs: config.pollMs,
      maxAttempts: config.webhookMaxAttempts,
      retryBaseMs: config.webhookRetryBaseMs,
      timeoutMs: config.webhookTimeoutMs,
      concurrency: config.webhookConcurrency,
      allowPrivate: config.webhooksAllowPrivate,
    });
    dispatcher.start();
    return service;
  } catch (e) {
    await poller?.stop().catch(() => undefined);
    await dispatcher?.stop().catch(() => undefined);
    await queue?.stop().catch(() => undefined);
    await db.close();
    throw e;
  }
}

function openQueue(config: ServiceConfig, db: Db, owner: string, log: Logger): Promise<JobQueue> {
  if (config.databaseUrl)
    return PgBossQueue.open({
      connectionString: config.databaseUrl,
      db: db.kysely,
      leaseMs: config.leaseMs,
      // Longer than a scan may take (ScanRunner stops it at jobTimeoutSeconds), so only a dead worker's job expires.
      expireInSeconds: config.jobTimeoutSeconds + Math.min(60, config.jobTimeoutSeconds),
      maintenanceSeconds: config.maintenanceSeconds,
      pollMs: config.pollMs,
      log,
    });
  return Promise.resolve(new EmbeddedQueue(db.kysely, { owner, leaseMs: config.leaseMs, pollMs: config.pollMs, log }));
}

/**
 * The first key: MODELVET_BOOTSTRAP_API_KEY when set, else a generated one (returned for printing once).
 * Nothing happens once any key exists.
 */
async function bootstrapAdminKey(db: Db, config: ServiceConfig): Promise<string | undefined> {
  if ((await countApiKeys(db.kysely)) > 0) return undefined;
  if (config.bootstrapApiKey) {
    if (config.bootstrapApiKey.length < 20)
      throw new StartupError(
        "MODELVET_BOOTSTRAP_API_KEY is too short to be a safe key: use at least 20 random characters",
      );
    await createApiKey(db.kysely, null, "bootstrap admin", config.bootstrapApiKey);
    return undefined;
  }
  return (await createApiKey(db.kysely, null, "generated admin")).api_key;
}
