"use strict";
// The script of a scan worker thread of the bundled CLI: the same bundle as the main thread, from the same code
// cache, runs the engine's worker loop (src/scan-command.ts passes this file to the engine as its workerUrl).
const { parentPort, workerData } = require("node:worker_threads");
const { loadBundle } = require("./bundle.js");

if (parentPort) void loadBundle().exports.serveScanWorker(parentPort, workerData);
