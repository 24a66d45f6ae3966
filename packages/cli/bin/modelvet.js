#!/usr/bin/env node
// `--version` is answered here, before the command-line parser and the engine load: a script that checks the
// version on every run should pay no more than Node's own start-up.
const [, , ...args] = process.argv;
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  const { readFileSync } = await import("node:fs");
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  process.stdout.write(`${pkg.version}\n`);
} else {
  // A reader that goes away (`modelvet rules list | head -1`) is not an error: stop quietly.
  for (const stream of [process.stdout, process.stderr])
    stream.on("error", (e) => {
      if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw e;
    });
  const { main } = await loadMain();
  process.exitCode = await main(process.argv);
}

/** The bundled build (`npm run build`); the modules tsc wrote when only `tsc -b` ran. */
async function loadMain() {
  try {
    return await import("../dist/bundle/main.js");
  } catch (e) {
    if (e?.code === "ERR_MODULE_NOT_FOUND" && String(e.message).includes("dist/bundle/main.js"))
      return import("../dist/main.js");
    throw e;
  }
}
