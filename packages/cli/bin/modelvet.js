#!/usr/bin/env node
"use strict";
// `--version` is answered here, before the command-line parser and the engine load: a script that checks the
// version on every run should pay no more than Node's own start-up.
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  const { readFileSync } = require("node:fs");
  const pkg = JSON.parse(readFileSync(require("node:path").join(__dirname, "..", "package.json"), "utf8"));
  process.stdout.write(`${pkg.version}\n`);
} else {
  // A reader that goes away (`modelvet rules list | head -1`) is not an error: stop quietly.
  for (const stream of [process.stdout, process.stderr])
    stream.on("error", (e) => {
      if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw e;
    });
  void run();
}

/** The bundled build (`npm run build`) from its code cache; the modules tsc wrote when only `tsc -b` ran. */
async function run() {
  const bundle = require("./bundle.js").loadBundle();
  const { main } = bundle ? bundle.exports : await import("../dist/main.js");
  process.exitCode = await main(process.argv);
  bundle?.storeCodeCache();
}
