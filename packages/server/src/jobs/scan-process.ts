/**
 * Entry point of a scan's child process (forked by ScanSupervisor). One scan per process, so a scan that runs out
 * of memory, crashes natively or spins is killed alone and never takes the server with it. The input (with the
 * Hub token) arrives over IPC, not argv, so it never shows in the process list.
 */
import { scanTargetsWithInventories, ScanError, type FileInventory, type ScanReport } from "@modelvet/engine";

export interface ScanInput {
  target: string;
  revision: string;
  endpoint: string;
  token?: string;
  cacheDir: string | false;
}

export type ScanMessage =
  | { type: "progress"; filesDone: number; filesTotal: number; bytesRead: number }
  | { type: "done"; report: ScanReport; inventories: FileInventory[] }
  | { type: "failed"; message: string; actionable: boolean };

/** Progress messages at most this often; the last one always goes out with the result. */
const PROGRESS_EVERY_MS = 250;

async function run(input: ScanInput): Promise<ScanMessage> {
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
        void send({ type: "progress", filesDone: p.filesDone, filesTotal: p.filesTotal, bytesRead: p.bytesRead });
      },
    });
    return { type: "done", report, inventories };
  } catch (e) {
    return { type: "failed", message: (e as Error)?.message ?? String(e), actionable: e instanceof ScanError };
  }
}

function send(message: ScanMessage): Promise<void> {
  return new Promise((resolve) => (process.send ? process.send(message, () => resolve()) : resolve()));
}

if (process.send) {
  // The supervisor died (or closed the channel): nobody wants the result, so stop at once.
  process.on("disconnect", () => process.exit(0));
  process.once("message", (input: ScanInput) => {
    void run(input)
      .then(send)
      .then(() => process.exit(0));
  });
}
