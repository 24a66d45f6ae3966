// A 3 GiB checkpoint with a payload in data.pkl, served by the Hub-compatible test server on loopback: scanned
// cold and again with the inventory cache. Prints one JSON line per measurement (bench/run.mjs records them).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scanTargets } from "../packages/engine/src/index.js";
import { FakeHub, smallFile, sparseFile } from "../packages/engine/test/support/hub-server.js";
import { torchCheckpoint } from "../packages/engine/test/support/torch-zip.js";

const hub = new FakeHub();
await hub.start();
const sha = "f".repeat(40);
const layout = torchCheckpoint(3 * 1024 ** 3, 300, "echo modelvet-bench");
hub.addRepo({
  id: "bench/big",
  refs: { main: sha },
  commits: {
    [sha]: [sparseFile("pytorch_model.bin", layout.size, layout.segments), smallFile("config.json", Buffer.from("{}"))],
  },
});
const cacheDir = mkdtempSync(join(tmpdir(), "modelvet-bench-cache-"));
for (const phase of ["cold", "cached"]) {
  hub.resetStats();
  const t = performance.now();
  const report = await scanTargets(["hf://bench/big"], { hub: { endpoint: hub.hubUrl }, cacheDir });
  const ms = performance.now() - t;
  const cold = phase === "cold";
  console.log(
    JSON.stringify({
      case: `Hub repo with a 3 GiB checkpoint (${phase})`,
      severity: report.severity,
      bytes_transferred: hub.stats.bytesSent,
      requests: hub.stats.requests.length,
      wall_ms: Math.round(ms),
      cached_files: report.stats.cached_files,
      goal: cold ? "Alert, at most 1 MiB transferred" : "nothing read but the listing",
      met: cold
        ? report.severity === 3 && hub.stats.bytesSent <= 1024 * 1024
        : hub.stats.requests.every((r) => r.url.startsWith("/api/")),
    }),
  );
}
rmSync(cacheDir, { recursive: true, force: true });
await hub.stop();
