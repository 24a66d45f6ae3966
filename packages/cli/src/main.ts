import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { readFileSync } from "node:fs";
import { NothingToScanError, RulesError, ScanError } from "@modelvet/engine";
import { runScan, type ScanCommandOptions } from "./scan-command.js";
import { explainRule, listRules } from "./rules-command.js";

const VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string })
  .version;

/**
 * Exit codes: 0 below the --fail-on threshold, 1 at or above it, 2 could not scan (bad arguments or rules file,
 * nothing to scan, a file that could not be read unless --allow-unreadable, an unreachable Hub).
 */
export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = new Command("modelvet")
    .description("Find the code hiding in machine-learning model files before anyone loads them.")
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command("scan")
    .description("scan model files, folders (recursively) and Hugging Face repos; every file is judged by its bytes")
    .argument("<targets...>", "files, folders, hf://org/repo[@revision] or https://huggingface.co/org/repo[/tree/rev]")
    .addOption(
      new Option("-f, --format <format>", "output format")
        .choices(["text", "json", "sarif", "cyclonedx"])
        .default("text"),
    )
    .option("-o, --output <file>", "write the report to a file instead of standard output")
    .addOption(
      new Option("--fail-on <severity>", "exit 1 when the result is at least this severe")
        .choices(["warning", "alert"])
        .default("alert"),
    )
    .option("--rules <file>", "extra rules file that adds or overrides rules (repeatable)", collect, [])
    .option("-q, --quiet", "text output: list only files with findings")
    .option("--no-progress", "never show a progress bar")
    .option("--concurrency <n>", "files scanned at once", positiveInt, 4)
    .option("--timeout <seconds>", "time budget per file", positiveInt, 600)
    .option("--max-decompressed <bytes>", "decompressed bytes per file (past it: Warning, scan.limit)", positiveInt)
    .option(
      "--max-member-decompressed <bytes>",
      "decompressed bytes per compressed stream (past it: Warning)",
      positiveInt,
    )
    .option("--revision <rev>", "branch, tag or commit for Hub targets (resolved to a commit sha first)")
    .option("--token <token>", "Hugging Face token (default: HF_TOKEN)")
    .option("--cache-dir <dir>", "inventory cache folder (default: the user's cache folder)")
    .option("--no-cache", "neither read nor write the inventory cache")
    .option("--exclude <glob>", "leave out files and folders matching a glob (repeatable)", collect, [])
    .option("--include-vcs", "also scan .git/, .hg/, .svn/, node_modules/ and __pycache__/ (skipped by default)")
    .option("--allow-unreadable", "exit by severity even when some files could not be read (they stay listed)")
    .option("--sarif-category <id>", "SARIF run.automationDetails category (default: modelvet)")
    .action(async (paths: string[], options: ScanCommandOptions) => {
      exitCode = await runScan(paths, options, VERSION);
    });

  const rules = program.command("rules").description("show the rules pack");
  rules
    .command("list")
    .description("list every rule with its severity and reason")
    .option("--rules <file>", "extra rules file (repeatable)", collect, [])
    .addOption(new Option("-f, --format <format>", "output format").choices(["text", "json"]).default("text"))
    .action(async (options: { rules: string[]; format: "text" | "json" }) => {
      await listRules(options);
    });
  rules
    .command("explain")
    .description("print a rule's page (a rule id, e.g. deny-os) or explain the severity of an import (posix.system)")
    .argument("<id-or-global>", "rule id, module.name, or module:name when the name is dotted")
    .option("--rules <file>", "extra rules file (repeatable)", collect, [])
    .action(async (global: string, options: { rules: string[] }) => {
      await explainRule(global, options);
    });

  program
    .command("serve")
    .description("run the service: API, web UI and (unless --no-worker) scan workers")
    .option("--port <port>", "HTTP port, 0 for any free one (default: PORT or 8080)", port)
    .option("--host <address>", "address to listen on; 0.0.0.0 for every interface (default: HOST or 127.0.0.1)")
    .option("--data-dir <dir>", "data folder (default: MODELVET_DATA_DIR or ./.modelvet)")
    .option("--no-worker", "take requests only; `modelvet worker` processes run the scans")
    .action(async (options: { port?: number; host?: string; dataDir?: string; worker: boolean }) => {
      // Loaded on demand: `modelvet scan` should not pay for the server's dependencies.
      const { runServe } = await loadServeCommand();
      exitCode = await runServe(options);
    });
  program
    .command("worker")
    .description("run scans from the shared job queue (PostgreSQL with DATABASE_URL, else the data folder)")
    .option("--concurrency <n>", "scans run at once (default: MODELVET_CONCURRENCY or 2)", positiveInt)
    .option("--data-dir <dir>", "data folder (default: MODELVET_DATA_DIR or ./.modelvet)")
    .action(async (options: { concurrency?: number; dataDir?: string }) => {
      const { runWorker } = await loadServeCommand();
      exitCode = await runWorker(options);
    });

  program
    .command("admin")
    .description("maintenance on the service's store")
    .command("rotate-key")
    .description("revoke every admin API key and print a new one (once); uses DATABASE_URL or the data folder")
    .option("--data-dir <dir>", "data folder (default: MODELVET_DATA_DIR or ./.modelvet)")
    .action(async (options: { dataDir?: string }) => {
      const { runRotateKey } = await import("./serve-command.js");
      exitCode = await runRotateKey(options);
    });

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
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
 * The service is an optional peer package, so installing the CLI to scan files pulls in no database or HTTP server.
 * Without it, `serve`/`worker` say in one line what to install.
 */
async function loadServeCommand(): Promise<typeof import("./serve-command.js")> {
  try {
    return await import("./serve-command.js");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err?.code === "ERR_MODULE_NOT_FOUND" && err.message.includes("@modelvet/server"))
      throw new ServiceMissingError(
        "the service is not installed: run `npm i @modelvet/server` where @modelvet/cli is installed (add -g for a global CLI)",
      );
    throw e;
  }
}

class ServiceMissingError extends Error {
  override name = "StartupError";
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("must be a positive whole number");
  return n;
}

/**
 * Start-up failures of `serve`/`worker` (bad settings, database unreachable, port taken) carry a message a person
 * can act on. Matched by name: importing the server's error class would load the server for every command.
 */
function isServiceStartError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return (e as Error)?.name === "StartupError" || code === "EADDRINUSE" || code === "EACCES";
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError("must be a port number (0-65535)");
  return n;
}

function isFsError(e: unknown): boolean {
  return (
    typeof (e as NodeJS.ErrnoException)?.code === "string" && typeof (e as NodeJS.ErrnoException).syscall === "string"
  );
}
