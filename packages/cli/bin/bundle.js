"use strict";
// Runs the CLI's bundle (dist/bundle/modelvet.cjs, written by scripts/bundle-cli.mjs) from V8's code cache: with
// the cache, V8 neither parses nor compiles what earlier runs compiled, which is most of a small scan's CPU time
// beyond Node's own start-up. CommonJS, so that running the CLI never starts Node's ES module loader.
//
// The cache is keyed by the bundle's build id (its first line) and by V8's version; V8 refuses a cache made with
// other flags or for another source length, and then this run compiles as usual and stores a fresh cache. A
// cache is written only by a main thread after its command ran (so it holds what the command compiled), to a
// temporary name then renamed (runs in parallel never read half a file); a read-only install just runs uncached.
const { readFileSync, renameSync, rmSync, writeFileSync } = require("node:fs");
const Module = require("node:module");
const { dirname, join } = require("node:path");
const { Script } = require("node:vm");

const BUNDLE = join(__dirname, "..", "dist", "bundle", "modelvet.cjs");
const ID_LINE = /^\/\/ modelvet bundle ([0-9a-f]+)\n/;

/** The bundle's exports and a function that stores its code cache if it needs one; undefined when not built. */
function loadBundle() {
  let source;
  try {
    source = readFileSync(BUNDLE, "utf8");
  } catch (e) {
    if (e.code === "ENOENT") return undefined;
    throw e;
  }
  const id = ID_LINE.exec(source)?.[1] ?? "unnamed";
  const cacheFile = join(dirname(BUNDLE), `modelvet.${id}.v8-${process.versions.v8}.cache`);
  const cachedData = readIfPresent(cacheFile);
  const script = new Script(Module.wrap(source), { filename: BUNDLE, cachedData });
  const module_ = { exports: {}, filename: BUNDLE, id: BUNDLE };
  script.runInThisContext()(module_.exports, Module.createRequire(BUNDLE), module_, BUNDLE, dirname(BUNDLE));
  const cacheUsed = cachedData !== undefined && !script.cachedDataRejected;
  return {
    exports: module_.exports,
    storeCodeCache() {
      if (!cacheUsed) writeAtomically(cacheFile, script.createCachedData());
    },
  };
}

function readIfPresent(file) {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Best effort: a folder this user cannot write (a system-wide install) leaves the CLI uncached, not broken. */
function writeAtomically(file, bytes) {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, bytes);
    renameSync(temporary, file);
  } catch {
    rmSync(temporary, { force: true });
  }
}

module.exports = { loadBundle };
