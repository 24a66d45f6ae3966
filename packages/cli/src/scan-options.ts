import type { ScanCommandOptions } from "./scan-command.js";

/**
 * The options of `modelvet scan`, declared once: the full command-line parser (commander, which writes the help
 * and the error messages) is built from this table, and so is the quick parser that reads an ordinary `scan`
 * command line without loading commander at all (see parseScanQuickly).
 */
export interface ScanOptionSpec {
  /** As commander spells them: `-f, --format <format>`, `--no-cache`, `-q, --quiet`. */
  flags: string;
  description: string;
  choices?: readonly string[];
  default?: unknown;
  /** How a value is read: a whole number above 0, or one more item of a repeatable option. */
  parse?: "positiveInt" | "collect";
}

export const SCAN_OPTIONS: readonly ScanOptionSpec[] = [
  {
    flags: "-f, --format <format>",
    description: "output format",
    choices: ["text", "json", "sarif", "cyclonedx"],
    default: "text",
  },
  { flags: "-o, --output <file>", description: "write the report to a file instead of standard output" },
  {
    flags: "--fail-on <severity>",
    description: "exit 1 when the result is at least this severe",
    choices: ["warning", "alert"],
    default: "alert",
  },
  {
    flags: "--rules <file>",
    description: "extra rules file that adds or overrides rules (repeatable)",
    parse: "collect",
    default: [],
  },
  { flags: "-q, --quiet", description: "text output: list only files with findings" },
  { flags: "--no-progress", description: "never show a progress bar" },
  { flags: "--concurrency <n>", description: "files scanned at once on each thread", parse: "positiveInt", default: 4 },
  {
    flags: "--jobs <n>",
    description: "threads that scan a folder of many files (default: the CPUs, at most 4, once the work proves large)",
    parse: "positiveInt",
  },
  { flags: "--timeout <seconds>", description: "time budget per file", parse: "positiveInt", default: 600 },
  {
    flags: "--max-decompressed <bytes>",
    description: "decompressed bytes per file (past it: Warning, scan.limit)",
    parse: "positiveInt",
  },
  {
    flags: "--max-member-decompressed <bytes>",
    description: "decompressed bytes per compressed stream (past it: Warning)",
    parse: "positiveInt",
  },
  {
    flags: "--revision <rev>",
    description: "branch, tag or commit for Hub targets (resolved to a commit sha first)",
  },
  { flags: "--token <token>", description: "Hugging Face token (default: HF_TOKEN)" },
  { flags: "--cache-dir <dir>", description: "inventory cache folder (default: the user's cache folder)" },
  { flags: "--no-cache", description: "neither read nor write the inventory cache" },
  {
    flags: "--exclude <glob>",
    description: "leave out files and folders matching a glob (repeatable)",
    parse: "collect",
    default: [],
  },
  {
    flags: "--include-vcs",
    description: "also scan .git/, .hg/, .svn/, node_modules/ and __pycache__/ (skipped by default)",
  },
  {
    flags: "--allow-unreadable",
    description: "exit by severity even when some files could not be read (they stay listed)",
  },
  { flags: "--sarif-category <id>", description: "SARIF run.automationDetails category (default: modelvet)" },
];

/**
 * Thrown by a value parser; shaped like commander's InvalidArgumentError (the code and exit code commander looks
 * for), so commander reports it exactly as its own, while the quick parser needs no commander to throw it.
 */
export class InvalidOptionValue extends Error {
  readonly code = "commander.invalidArgument";
  readonly exitCode = 1;
  override name = "InvalidArgumentError";
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidOptionValue("must be a positive whole number");
  return n;
}

export const VALUE_PARSERS = { positiveInt, collect } as const;

interface QuickOption {
  /** The key in the options object (commander's camel-case attribute name). */
  key: string;
  spec: ScanOptionSpec;
  takesValue: boolean;
  negated: boolean;
}

/** The options by each of their spellings (`-f`, `--format`). */
function optionTable(): Map<string, QuickOption> {
  const table = new Map<string, QuickOption>();
  for (const spec of SCAN_OPTIONS) {
    const words = spec.flags.split(/[ ,]+/);
    const long = words.find((w) => w.startsWith("--"))!;
    const negated = long.startsWith("--no-");
    const key = camelCase(negated ? long.slice(5) : long.slice(2));
    const option = { key, spec, takesValue: words.some((w) => w.startsWith("<")), negated };
    for (const word of words) if (word.startsWith("-")) table.set(word, option);
  }
  return table;
}

function camelCase(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The options object before any flag is read: what commander starts from. */
function defaults(): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const option of new Set(optionTable().values())) {
    if (option.negated) values[option.key] = true;
    else if (option.spec.default !== undefined) values[option.key] = option.spec.default;
  }
  return values;
}

/**
 * The targets and options of an ordinary `scan` command line (the words after `scan`), read the way commander
 * reads them, or undefined for anything else: help, an unknown or malformed option, a value that is not
 * accepted, a missing value or target, `--`, grouped short flags, a value that starts with `-`. Commander then
 * parses the line itself and writes its own help or error, so the quick path can change no output.
 */
export function parseScanQuickly(
  words: readonly string[],
): { targets: string[]; options: ScanCommandOptions } | undefined {
  const table = optionTable();
  const values = defaults();
  const targets: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (!word.startsWith("-")) {
      if (word === "help") return undefined;
      targets.push(word);
      continue;
    }
    const eq = word.startsWith("--") ? word.indexOf("=") : -1;
    const option = table.get(eq > 0 ? word.slice(0, eq) : word);
    if (!option) return undefined;
    if (!option.takesValue) {
      if (eq > 0) return undefined;
      values[option.key] = !option.negated;
      continue;
    }
    const value = eq > 0 ? word.slice(eq + 1) : words[++i];
    if (value === undefined || (eq < 0 && value.startsWith("-"))) return undefined;
    const read = readValue(option.spec, value, values[option.key]);
    if (read === undefined) return undefined;
    values[option.key] = read.value;
  }
  if (targets.length === 0) return undefined;
  return { targets, options: values as unknown as ScanCommandOptions };
}

function readValue(spec: ScanOptionSpec, value: string, previous: unknown): { value: unknown } | undefined {
  if (spec.choices && !spec.choices.includes(value)) return undefined;
  if (spec.parse === "collect") return { value: collect(value, previous as string[]) };
  if (spec.parse === "positiveInt") {
    try {
      return { value: positiveInt(value) };
    } catch {
      return undefined;
    }
  }
  return { value };
}
