// Loaded with `node --import`: records the URL of every module the process loads into $MODULE_LOG, so a test can
// see which readers a scan brought in. Hooks run off the main thread; they append one line per module.
import { register } from "node:module";

register("./module-log-hooks.mjs", import.meta.url, { data: { log: process.env.MODULE_LOG } });
