import type { MessagePort } from "node:worker_threads";
import type { BatchMessage, WorkerMessage, WorkerSetup } from "./scan-pool.js";
import { localItem, mapBounded, openCache, scanItem, type ActiveFile } from "./scan-item.js";

/**
 * The loop of a worker thread of scan-pool.ts: scans the local files of each batch it is sent, exactly as the main
 * thread would (same limits, same cache), and sends back their results in the batch's order. Batches run one after
 * the other; nothing is judged here (the main thread grades every inventory with its classifier). scan-worker.ts
 * is the thread's script; a bundle that carries the engine calls this from its own.
 */
export async function serveScanWorker(port: MessagePort, setup: WorkerSetup): Promise<void> {
  const cache = setup.cacheDir === false ? undefined : await openCache(setup.cacheDir);
  const reading = new Map<number, ActiveFile>();
  const send = (message: WorkerMessage): void => port.postMessage(message);
  if (setup.progressIntervalMs)
    setInterval(() => {
      if (reading.size === 0) return;
      const files = [...reading].map(([index, active]) => ({
        index,
        bytesRead: active.source?.bytesRead ?? 0,
        decompressed: active.counters.decompressed,
      }));
      send({ kind: "bytes", files });
    }, setup.progressIntervalMs).unref();
  let chain = Promise.resolve();
  port.on("message", (message: BatchMessage) => {
    chain = chain.then(async () => {
      const results = await mapBounded(message.files, setup.concurrency, async ({ index, path }) => {
        const active: ActiveFile = { counters: { members: 0, decompressed: 0 } };
        if (setup.progressIntervalMs) {
          reading.set(index, active);
          send({ kind: "reading", index });
        }
        try {
          return await scanItem(localItem(path), setup.limits, cache, active);
        } finally {
          reading.delete(index);
        }
      });
      send({ kind: "done", batch: message.batch, results });
    });
  });
}
