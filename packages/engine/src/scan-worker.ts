import { parentPort, workerData } from "node:worker_threads";
import type { WorkerSetup } from "./scan-pool.js";
import { serveScanWorker } from "./scan-worker-loop.js";

// The script of a scan-pool.ts worker thread (the engine's default `workerUrl`).
if (parentPort) await serveScanWorker(parentPort, workerData as WorkerSetup);
