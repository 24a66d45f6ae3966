import { readFileSync } from "node:fs";
import { NothingToScanError, RulesError, ScanError } from "@modelvet/engine";
import { runScan } from "./scan-command.js";
import { parseScanQuickly } from "./scan-options.js";

const VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string })
  .version;

/**
 * Exit codes: 0 below the --fail-on threshold, 1 at or above it, 2 could not scan (bad arguments or rules file,
 * nothing to scan, a file that could not be read unless --allow-unreadable, an unreachable Hub).
 */
export async function main(argv: string[]): Promise<number> {
  try {
    // An ordinary `scan` line (the command a hook or CI job runs on every commit) is read without commander,
    // which costs more to load than a small scan; anything else, help and errors included, goes to commander.
    const quick = argv[2] === "scan" ? parseScanQuickly(argv.slice(3)) : undefined;
    if (quick) return await runScan(quick.targets, quick.options, VERSION);
    const { runCommander } = await import("./program.js");
    return await runCommander(argv, VERSION);
  } catch (e) {
    if (e instanceof NothingToScanError) {
      process.stderr.write(`modelvet: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ScanError || e instanceof RulesError || isFsError(e) || isServiceStartError(e)) {
      process.stderr.write(`modelvet: ${(e as Error).message}\n`);
      return 2;
    }
    process.stderr.write(`modelvet: internal error: ${(e as Error)?.message ?? String(e)}\n`);
    return 2;
  }
}

/**
 * Start-up failures of `serve`/`worker` (bad settings, database unreachable, port taken) carry a message a person
 * can act on. Matched by name: importing the server's error class would load the server for every command.
 */
function isServiceStartError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return (e as Error)?.name === "StartupError" || code === "EADDRINUSE" || code === "EACCES";
}

function isFsError(e: unknown): boolean {
  return (
    typeof (e as NodeJS.ErrnoException)?.code === "string" && typeof (e as NodeJS.ErrnoException).syscall === "string"
  );
}
