#!/usr/bin/env node
// One measurement in a fresh process: `inspect FILE` times the engine on one file; `scan PATH...` runs a whole
// scan. Prints one JSON line with the time, bytes read, severity and this process's peak RSS.
import { inspect, scanPaths, FileSource } from "@modelvet/engine";

const [mode, ...paths] = process.argv.slice(2);
const started = performance.now();
let out;
if (mode === "inspect") {
  const source = await FileSource.open(paths[0]);
  const inventory = await inspect(source);
  await source.close();
  out = {
    bytes_read: inventory.bytes_read,
    imports: inventory.imports.length,
    indicators: inventory.indicators.length,
  };
} else {
  const report = await scanPaths(paths, { concurrency: 8, cacheDir: false });
  out = { bytes_read: report.stats.bytes_read, files: report.stats.files, severity: report.severity };
}
const ms = performance.now() - started;
console.log(JSON.stringify({ ms, ...out, rss_mb: Math.round(process.resourceUsage().maxRSS / 1024) }));
