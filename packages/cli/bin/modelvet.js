#!/usr/bin/env node
import { main } from "../dist/main.js";

// A reader that goes away (`modelvet rules list | head -1`) is not an error: stop quietly.
for (const stream of [process.stdout, process.stderr])
  stream.on("error", (e) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });

process.exitCode = await main(process.argv);
