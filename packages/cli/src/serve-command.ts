import { configFromEnv, createLogger, rotateAdminKey, startService, type Service } from "@modelvet/server";

export interface ServeOptions {
  port?: number;
  host?: string;
  dataDir?: string;
  /** commander turns `--no-worker` into `worker: false`. */
  worker: boolean;
}

/** `modelvet serve`: the API and web UI, plus (unless --no-worker) scan workers in this process. */
export async function runServe(options: ServeOptions): Promise<number> {
  const config = configFromEnv(process.env, {
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
  });
  const logger = createLogger();
  const service = await startService({ config, logger, http: true, worker: options.worker });
  if (service.generatedAdminKey)
    // Printed once, on standard output only (never through the log): the store keeps just its hash.
    process.stdout.write(
      `modelvet: no API key existed, so an admin key was created. It is shown only now:\n\n  ${service.generatedAdminKey}\n\n`,
    );
  const address = await service.app!.listen({ port: config.port, host: config.host });
  const store = config.databaseUrl ? "PostgreSQL" : `SQLite in ${config.dataDir}`;
  logger.info({ url: address, store, queue: service.queue.kind, worker: options.worker }, "modelvet serving");
  return untilSignal(service);
}

/** `modelvet worker`: runs scans from the shared queue, no HTTP. */
export async function runWorker(options: { concurrency?: number; dataDir?: string }): Promise<number> {
  const config = configFromEnv(process.env, {
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
  });
  const logger = createLogger();
  const service = await startService({ config, logger, http: false, worker: true });
  logger.info({ concurrency: config.concurrency, queue: service.queue.kind }, "modelvet worker running");
  return untilSignal(service);
}

/** `modelvet admin rotate-key`: every admin key is revoked; the new one is printed once. */
export async function runRotateKey(options: { dataDir?: string }): Promise<number> {
  const config = configFromEnv(process.env, options.dataDir !== undefined ? { dataDir: options.dataDir } : {});
  const { apiKey, revoked } = await rotateAdminKey(config);
  process.stdout.write(
    `modelvet: ${revoked} admin key(s) revoked. The new admin key is shown only now:\n\n  ${apiKey}\n\n`,
  );
  return 0;
}

/** Runs until SIGINT/SIGTERM, then hands running jobs back to the queue and closes. */
function untilSignal(service: Service): Promise<number> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      service.close().then(
        () => resolve(0),
        (e: unknown) => {
          process.stderr.write(`modelvet: error while stopping: ${(e as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
