/**
 * Runs one scan inside a worker thread, so a scan never blocks the HTTP loop and its heap is capped by the
 * thread's resourceLimits (the scan's ram_request_megabytes). Talks to ScanRunner only through messages.
 */
import { parentPort, workerData } from "node:worker_threads";
import { scanTargetsWithInventories, ScanError, type FileInventory, type ScanReport } from "@modelvet/engine";

export interface ThreadInput {
  target: string;
  revision: string;
  endpoint: string;
  token?: string;
  cacheDir: string | false;
}

export type ThreadMessage =
  | { type: "progress"; filesDone: number; filesTotal: number; bytesRead: number }
  | { type: "done"; report: ScanReport; inventories: FileInventory[] }
  | { type: "failed"; message: string; actionable: boolean };

/** Progress messages at most this often; the last one always goes out with the result. */
const PROGRESS_EVERY_MS = 250;

async function run(input: ThreadInput): Promise<ThreadMessage> {
  let last = 0;
  try {
    const { report, inventories } = await scanTargetsWithInventories([input.target], {
      revision: input.revision,
      // An explicit token (or none): the process's own HF_TOKEN must never serve a workspace's scan.
      hub: { endpoint: input.endpoint, token: input.token },
      cacheDir: input.cacheDir,
      onProgress: (p) => {
        const now = Date.now();
        if (now - last < PROGRESS_EVERY_MS && p.filesDone < p.filesTotal) return;
        last = now;
        post({ type: "progress", filesDone: p.filesDone, filesTotal: p.filesTotal, bytesRead: p.bytesRead });
      },
    });
    return { type: "done", report, inventories };
  } catch (e) {
    return { type: "failed", message: (e as Error)?.message ?? String(e), actionable: e instanceof ScanError };
  }
}

function post(message: ThreadMessage): void {
  parentPort?.postMessage(message);
}

if (parentPort) post(await run(workerData as ThreadInput));
