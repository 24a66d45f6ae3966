// Import rules of the engine (docs/ARCHITECTURE.md). Layers, each importing only from the layers below it:
//   source/  →  containers/  →  pickle/, policy/  →  formats/  →  inspect.ts  →  scan.ts, cache.ts, hub/, walk/, report/, index.ts
// inventory.ts and report/types.ts are data shapes (the inventory, the wire report) that any layer may name.
// Type-only imports count: a cycle through types is still a knot in the design.
const SRC = "^packages/engine/src/";
const DATA = `${SRC}(inventory\\.ts|report/types\\.ts)$`;

/** A layer may import only the listed paths (and Node or npm modules). */
function layer(name, from, allowed) {
  return {
    name: `layer-${name}`,
    comment: `${name} imports only ${allowed.join(", ")} of the engine (plus the data shapes)`,
    severity: "error",
    from: { path: from },
    to: { path: SRC, pathNot: [...allowed, DATA] },
  };
}

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "Import cycles knot the layers together; break them with an interface in the lower layer.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    layer("source", `${SRC}source/`, [`${SRC}source/`]),
    layer("containers", `${SRC}containers/`, [`${SRC}source/`, `${SRC}containers/`]),
    layer("pickle", `${SRC}pickle/`, [`${SRC}source/`, `${SRC}pickle/`]),
    layer("policy", `${SRC}policy/`, [`${SRC}policy/`]),
    layer("formats", `${SRC}formats/`, [
      `${SRC}source/`,
      `${SRC}containers/`,
      `${SRC}pickle/`,
      `${SRC}policy/`,
      `${SRC}formats/`,
    ]),
    layer("inspect", `${SRC}inspect\\.ts$`, [
      `${SRC}source/`,
      `${SRC}containers/`,
      `${SRC}pickle/`,
      `${SRC}policy/`,
      `${SRC}formats/`,
    ]),
    layer("data-shapes", DATA, [`${SRC}policy/rules\\.ts$`]),
    {
      name: "index-is-the-entry",
      comment: "index.ts is the package's public surface; nothing inside the engine imports it.",
      severity: "error",
      from: { path: SRC },
      to: { path: `${SRC}index\\.ts$` },
    },
    {
      name: "engine-stands-alone",
      comment: "The engine imports nothing of the CLI, the server, the SDK or the web UI.",
      severity: "error",
      from: { path: "^packages/engine/" },
      to: { path: "^packages/(cli|server|sdk|web)/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(dist|node_modules)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.base.json" },
  },
};
