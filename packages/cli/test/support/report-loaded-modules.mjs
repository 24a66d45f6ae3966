// Preloaded with `node --import` by startup-modules.test.ts: on exit, prints the Node built-in modules this
// process loaded (process.moduleLoadList), so a test can see what a command pulled in.
process.on("exit", () => {
  const builtins = process.moduleLoadList.filter((m) => m.startsWith("NativeModule ")).map((m) => m.slice(13));
  process.stderr.write(`LOADED-BUILTINS ${JSON.stringify(builtins)}\n`);
});
