#!/usr/bin/env node
// Bundles the compiled CLI and engine (dist/, from `tsc -b`) into a few files under packages/cli/dist/bundle/,
// which bin/modelvet.js runs. Node 20 has no compile cache: resolving, reading and compiling some 70 ES modules
// and a few hundred CommonJS files costs more CPU than a small scan, while one file costs a read and a parse.
// Dynamic imports stay dynamic (esbuild splits them into chunks), so a reader or library that a scan does not
// use is still never loaded. The source layout, the library's own dist/ and the tests are unchanged.
// `serve` loads @modelvet/server as a package (it is never bundled), and the server its own engine package.
import { build } from "esbuild";
import { rm } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const cliRoot = join(dirname(dirname(fileURLToPath(import.meta.url))), "packages", "cli");
const cliDist = join(cliRoot, "dist");
const engineDist = join(cliRoot, "..", "engine", "dist");
const outdir = join(cliDist, "bundle");

/**
 * Loaded at run time from node_modules, never copied in: the optional service, native addons, libraries one
 * rarely used path alone needs, and CommonJS libraries imported dynamically by name (a bundled chunk would expose
 * only their `default`, not the named exports Node's own loader gives). Each is a dependency of this package.
 */
const EXTERNAL = ["@modelvet/server", "lz4-napi", "@cyclonedx/*", "ajv"];

/**
 * Code that finds files next to itself (the rules pack, package.json, a library resolved by createRequire) must
 * keep seeing its own folder once bundled: `import.meta.url` becomes the address the module had in dist/.
 * Engine modules are found through the package (it may be installed anywhere); CLI modules relative to the bundle.
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
        url = `new URL(${JSON.stringify("./" + posix(relative(engineDist, args.path)))}, import.meta.resolve("@modelvet/engine")).href`;
      else if (args.path.startsWith(cliDist + sep))
        url = `new URL(${JSON.stringify(posix(relative(outdir, args.path)))}, import.meta.url).href`;
      else return undefined;
      return { contents: text.replaceAll("import.meta.url", url), loader: "js" };
    });
  },
};

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

await rm(outdir, { recursive: true, force: true });
await build({
  // The scan worker thread's script (the engine's scan-worker.js) is an entry of its own, sharing chunks with main.
  entryPoints: { main: join(cliDist, "main.js"), "scan-worker": join(engineDist, "scan-worker.js") },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: EXTERNAL,
  plugins: [engineHasNoSideEffects, keepModuleUrls, lazyChildProcess],
  // Bundled CommonJS libraries call require() for Node's built-in modules.
  banner: {
    js: 'import { createRequire as __mvRequire } from "node:module"; const require = __mvRequire(import.meta.url);',
  },
  logLevel: "warning",
  legalComments: "none",
});
