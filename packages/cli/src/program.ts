import { Command, CommanderError, Option } from "commander";
import { runScan, type ScanCommandOptions } from "./scan-command.js";
import { explainRule, listRules } from "./rules-command.js";
import {
  collect,
  InvalidOptionValue,
  positiveInt,
  SCAN_OPTIONS,
  VALUE_PARSERS,
  type ScanOptionSpec,
} from "./scan-options.js";

/**
 * Every command, parsed by commander, which also writes the help and the usage errors. `modelvet scan` with an
 * ordinary command line does not come here (see main.ts): commander and this module then never load.
 * Returns the exit code; errors other than commander's own are thrown to main's handler.
 */
export async function runCommander(argv: string[], version: string): Promise<number> {
  let exitCode = 0;
  const program = new Command("modelvet")
    .description("Find the code hiding in machine-learning model files before anyone loads them.")
    .version(version)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  const scan = program
    .command("scan")
    .description("scan model files, folders (recursively) and Hugging Face repos; every file is judged by its bytes")
    .argument("<targets...>", "files, folders, hf://org/repo[@revision] or https://huggingface.co/org/repo[/tree/rev]");
  for (const spec of SCAN_OPTIONS) scan.addOption(commanderOption(spec));
  scan.action(async (paths: string[], options: ScanCommandOptions) => {
    exitCode = await runScan(paths, options, version);
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
    throw e;
  }
}

/** A scan option as commander's own `.option()` would have made it (same help, same errors). */
export function commanderOption(spec: ScanOptionSpec): Option {
  const option = new Option(spec.flags, spec.description);
  if (spec.choices) option.choices(spec.choices);
  if (spec.default !== undefined) option.default(spec.default);
  if (spec.parse) option.argParser(VALUE_PARSERS[spec.parse] as (value: string, previous: unknown) => unknown);
  return option;
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
    // import() says ERR_MODULE_NOT_FOUND; require() (the bundled CLI loads the service with it) MODULE_NOT_FOUND.
    // The name in quotes is the module not found; a missing dependency of the service names it only in its stack.
    const missing = err?.code === "ERR_MODULE_NOT_FOUND" || err?.code === "MODULE_NOT_FOUND";
    if (missing && err.message.includes("'@modelvet/server'"))
      throw new ServiceMissingError(
        "the service is not installed: run `npm i @modelvet/server` where @modelvet/cli is installed (add -g for a global CLI)",
      );
    throw e;
  }
}

class ServiceMissingError extends Error {
  override name = "StartupError";
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidOptionValue("must be a port number (0-65535)");
  return n;
}
