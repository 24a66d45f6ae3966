#!/usr/bin/env node
// Bundles the compiled CLI and engine (dist/, from `tsc -b`) into one CommonJS file, packages/cli/dist/bundle/
// modelvet.cjs, which bin/modelvet.js runs through bin/bundle.js, then runs one small scan so that bundle.js
// stores V8's code cache for it beside it. Node 20 has no module compile cache: resolving, reading and compiling
// some 70 ES modules costs more CPU than a small scan, an ES module graph cannot be given a code cache, and Node's
// ES module loader alone costs milliseconds per run. One classic script with a code cache costs a read and a
// deserialisation. Modules the CLI imports dynamically stay lazy: esbuild wraps each in a function that runs on
// first import, and V8 compiles a function only when it is first called, so a reader or library that a scan does
// not use is never evaluated. The source layout, the library's own dist/ and the tests are unchanged.
// `serve` loads @modelvet/server as a package (it is never bundled), and the server its own engine package.
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const cliRoot = join(dirname(dirname(fileURLToPath(import.meta.url))), "packages", "cli");
const cliDist = join(cliRoot, "dist");
const engineDist = join(cliRoot, "..", "engine", "dist");
const outdir = join(cliDist, "bundle");

/** The optional service: loaded as a package when `serve` or `worker` runs (never bundled). */
const EXTERNAL = ["@modelvet/server"];

/**
 * Code that finds files next to itself (the rules pack, package.json, a library resolved by createRequire) must
 * keep seeing its own folder once bundled: `import.meta.url` becomes the address the module had in dist/.
 * Engine modules are found through the package (it may be installed anywhere); CLI modules relative to the bundle.
 * The two helpers are defined in the bundle's banner.
 */
const keepModuleUrls = {
  name: "keep-module-urls",
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/].*\.js$/ }, async (args) => {
      const { readFile } = await import("node:fs/promises");
      const text = await readFile(args.path, "utf8");
      if (!text.includes("import.meta.url")) return undefined;
      const posix = (p) => p.split(sep).join("/");
      let url;
      if (args.path.startsWith(engineDist + sep))
        url = `__mvEngineUrl(${JSON.stringify("./" + posix(relative(engineDist, args.path)))})`;
      else if (args.path.startsWith(cliDist + sep))
        url = `__mvBundleUrl(${JSON.stringify(posix(relative(outdir, args.path)))})`;
      else return undefined;
      return { contents: text.replaceAll("import.meta.url", url), loader: "js" };
    });
  },
};

/**
 * The banner's helpers: a module's former address (from the engine package's entry or from the bundle's folder),
 * and a require() that resolves from the engine package.
 */
const URL_HELPERS =
  'const __mvUrl = () => require("node:url");\n' +
  'const __mvEngineUrl = (rel) => new URL(rel, __mvUrl().pathToFileURL(require.resolve("@modelvet/engine"))).href;\n' +
  "const __mvBundleUrl = (rel) => new URL(rel, __mvUrl().pathToFileURL(__filename)).href;\n" +
  'const __mvEngineRequire = () => require("node:module").createRequire(require.resolve("@modelvet/engine"));';

/**
 * The engine's modules only define things: importing one runs nothing. Saying so lets the bundle leave out what
 * the CLI never uses, and keep a module that the engine imports on demand (the inventory cache, with its hashing
 * and home-folder lookups) out of start-up even though the engine's index also re-exports it.
 */
const engineHasNoSideEffects = {
  name: "engine-has-no-side-effects",
  setup(b) {
    b.onResolve({ filter: /^(\.|@modelvet\/engine$)/ }, (args) => {
      const path =
        args.path === "@modelvet/engine" ? join(engineDist, "index.js") : resolve(dirname(args.importer), args.path);
      return path.startsWith(engineDist + sep) && args.importer !== "" ? { path, sideEffects: false } : undefined;
    });
  },
};

/**
 * Large libraries the engine needs only for some formats, targets or outputs (the Hub client, HDF5, YAML, Jinja,
 * SBOM output, rules-file validation) are loaded from node_modules when first used, not carried in the bundle:
 * every run and every worker thread reads and holds the bundle's whole text, so each of these would cost memory
 * in every thread of every scan. They are the engine's dependencies, so they are required from where the engine
 * is installed (npm may nest them under it).
 */
const ENGINE_LIBRARIES = [
  "@cyclonedx/cyclonedx-library",
  "@huggingface/hub",
  "@huggingface/jinja",
  "ajv",
  "jsfive",
  "yaml",
];
const engineLibrariesAtRunTime = {
  name: "engine-libraries-at-run-time",
  setup(b) {
    const names = new RegExp(`^(${ENGINE_LIBRARIES.map((n) => n.replace(/[/]/g, "\\/")).join("|")})$`);
    b.onResolve({ filter: names }, (args) => ({ path: args.path, namespace: "engine-library" }));
    b.onLoad({ filter: /.*/, namespace: "engine-library" }, (args) => ({
      contents: `module.exports = __mvEngineRequire()(${JSON.stringify(args.path)});\n`,
      loader: "js",
    }));
  },
};

/**
 * commander requires child_process at load, for executable subcommands (modelvet has none); loading that module
 * costs several milliseconds on every run. Its copy here loads on first use instead.
 */
const lazyChildProcess = {
  name: "lazy-child-process",
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer)
        ? { path: "child_process", namespace: "lazy-child-process" }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "lazy-child-process" }, () => ({
      contents:
        'let loaded; const load = () => (loaded ??= require("node:child_process"));\n' +
        "module.exports = new Proxy({}, { get: (_, key) => load()[key], has: (_, key) => key in load() });\n",
      loader: "js",
    }));
  },
};

/** The bundle's entry: the CLI's `main`, and the loop of a scan worker thread (bin/scan-worker.js runs it). */
const ENTRY =
  `export { main } from ${JSON.stringify(join(cliDist, "main.js"))};\n` +
  `export { serveScanWorker } from ${JSON.stringify(join(engineDist, "scan-worker-loop.js"))};\n`;

await rm(outdir, { recursive: true, force: true });
const bundle = join(outdir, "modelvet.cjs");
const { outputFiles } = await build({
  stdin: { contents: ENTRY, resolveDir: cliDist, sourcefile: "modelvet-entry.js", loader: "js" },
  outfile: bundle,
  write: false,
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  // import() becomes require(): a script compiled with a code cache (node:vm) cannot call import() on Node 20,
  // and Node >= 20.19 requires ES modules (the service) without a flag.
  supported: { "dynamic-import": false },
  external: EXTERNAL,
  plugins: [engineHasNoSideEffects, keepModuleUrls, lazyChildProcess, engineLibrariesAtRunTime],
  banner: { js: URL_HELPERS },
  logLevel: "warning",
  legalComments: "none",
});
// The first line names this build: bin/bundle.js keys the code cache by it (V8 itself checks only the length).
const code = outputFiles[0].text;
const buildId = createHash("sha256").update(code).digest("hex").slice(0, 16);
mkdirSync(outdir, { recursive: true });
writeFileSync(bundle, `// modelvet bundle ${buildId}\n${code}`);

// One scan of a small pickle through the CLI writes the code cache (bin/bundle.js stores it after a run when none
// fits this build and this Node): the functions a scan runs are then compiled already on the first real run.
const warm = mkdtempSync(join(tmpdir(), "modelvet-warm-"));
try {
  const tiny = join(warm, "tiny.pkl");
  writeFileSync(tiny, Buffer.from("80027d710058010000006171015d7102284b014b024b0365732e", "hex"));
  const bin = join(cliRoot, "bin", "modelvet.js");
  const run = spawnSync(process.execPath, [bin, "scan", tiny, "--format", "json", "--no-cache"], { encoding: "utf8" });
  if (run.status !== 0 || !run.stdout.includes('"severity": 1'))
    throw new Error(`the bundled CLI failed its warm-up scan (exit ${run.status}): ${run.stderr}`);
} finally {
  rmSync(warm, { recursive: true, force: true });
}
