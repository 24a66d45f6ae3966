import type { FormatContext } from "./types.js";
import { indicateAt } from "./pytorch.js";

/**
 * torch.package archives (`PackageExporter`): a zip whose root folder holds `.data/version`,
 * `.data/extern_modules` (modules taken from the loading environment), `.data/<id>.storage` tensors, pickles
 * saved with `save_pickle`, and the Python source of every interned module (`pkg/mod.py`, `pkg/__init__.py`).
 * `PackageImporter.load_pickle` unpickles with an importer that imports those modules from the archive, i.e.
 * executes their source; `import_module` does the same directly. So every `.py` in the archive is code that runs
 * on load: Alert, with the imports and the notable calls it makes listed so a reviewer sees what it reaches.
 * The pickles and other members are read as in any zip.
 */

/** Imports and calls listed per source file. */
const MAX_LISTED = 24;
/** Lines examined per source file (the zip reader already bounds the bytes). */
const MAX_LINES = 200_000;

/** The root folders of the archive that are torch.package packages (`<root>/.data/version` or `extern_modules`). */
export function torchPackageRoots(names: Iterable<string>): Set<string> {
  const roots = new Set<string>();
  for (const name of names) {
    const match = /^(?:(.*)\/)?\.data\/(?:version|extern_modules)$/.exec(name);
    if (match) roots.add(match[1] ?? "");
  }
  return roots;
}

/** Text records of `.data/` that torch reads as text (never unpickles). */
const METADATA_RECORDS = new Set(["version", "extern_modules", "python_version", "serialization_id"]);

/**
 * What a member of a torch.package archive is to the importer: `source` (`<root>/**.py` outside `.data/`, executed),
 * `metadata` (a text record of `.data/`), `storage` (`.data/<id>.storage`, raw tensor bytes), or undefined for
 * anything else (pickles and resources, read by content).
 */
export function packageMemberKind(
  name: string,
  roots: ReadonlySet<string>,
): "source" | "metadata" | "storage" | undefined {
  for (const root of roots) {
    const prefix = root ? `${root}/` : "";
    if (!name.startsWith(prefix)) continue;
    const rest = name.slice(prefix.length);
    if (rest.startsWith(".data/")) {
      const record = rest.slice(6);
      if (METADATA_RECORDS.has(record)) return "metadata";
      if (/^[^/]+\.storage$/.test(record)) return "storage";
      return undefined;
    }
    if (rest.endsWith(".py")) return "source";
  }
  return undefined;
}

/** What one Python source imports and calls, found line by line (no evaluation; bounded). */
export interface SourceSummary {
  imports: string[];
  calls: string[];
}

/** Calls worth naming: code execution, processes, files, network, native code, other loaders. */
const NOTABLE_CALL =
  /(?<![\w.])((?:os|posix|nt|subprocess|shutil|socket|ctypes|urllib(?:\.request)?|requests|http\.client|importlib|builtins|pickle|marshal|torch\.hub|pty|sys)\.[A-Za-z_]\w*|exec|eval|compile|__import__|open|getattr|setattr|globals|breakpoint)\s*\(/g;

export function summarizePythonSource(text: string): SourceSummary {
  const imports = new Set<string>();
  const calls = new Set<string>();
  const lines = text.split("\n", MAX_LINES);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/#.*$/, "");
    const plain = /^\s*import\s+(.+)$/.exec(line);
    if (plain) for (const part of plain[1]!.split(",")) addModule(imports, part);
    const from = /^\s*from\s+(\.*[\w.]*)\s+import\s+(.+)$/.exec(line);
    if (from) {
      let names = from[2]!;
      // A parenthesised list may continue on the following lines.
      for (let j = i + 1; names.includes("(") && !names.includes(")") && j < lines.length && j < i + 200; j++)
        names += ` ${lines[j]!.replace(/#.*$/, "")}`;
      for (const raw of names.replace(/[()\\]/g, " ").split(",")) {
        const part = raw.trim();
        if (part) addModule(imports, part === "*" ? from[1]! : joinModule(from[1]!, part));
      }
    }
    for (const call of line.matchAll(NOTABLE_CALL)) calls.add(`${call[1]!}(`);
  }
  return { imports: [...imports], calls: [...calls] };
}

/** `from . import x` is `.x`; `from a import x` is `a.x`. */
function joinModule(module: string, name: string): string {
  return module.endsWith(".") ? module + name : `${module}.${name}`;
}

function addModule(into: Set<string>, spec: string): void {
  const name = spec
    .trim()
    .split(/\s+as\s+/)[0]!
    .trim();
  if (/^\.*[\w.]+$/.test(name) && !name.endsWith(".")) into.add(name);
}

/** Reports one package source as code that runs on load, with what it imports and calls. */
export function reportPackageSource(ctx: FormatContext, member: string, text: string, truncated: boolean): void {
  const { imports, calls } = summarizePythonSource(text);
  const parts = [
    `torch.package source: PackageImporter executes this module when the package is loaded`,
    `imports: ${listOf(imports)}`,
    `calls: ${listOf(calls)}`,
  ];
  if (truncated) parts.push("only the start of the file was read");
  indicateAt(ctx, member, "torch_package.source", parts.join("; "));
}

function listOf(items: string[]): string {
  if (items.length === 0) return "none found";
  const shown = items.slice(0, MAX_LISTED).join(", ");
  return items.length > MAX_LISTED ? `${shown} and ${items.length - MAX_LISTED} more` : shown;
}
