import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { builtinRulesDir, loadBuiltinPack, loadPackDir } from "../src/index.js";
import { compilePack, COMPILED_PACK_FILE } from "../src/policy/rules.js";

describe("the compiled rules pack", () => {
  it("equals its JSON sources (run `npm run rules:compile` after editing a rules file)", async () => {
    const fromSources = compilePack(await loadPackDir(builtinRulesDir()));
    const compiled = JSON.parse(readFileSync(join(builtinRulesDir(), COMPILED_PACK_FILE), "utf8")) as unknown;
    expect(compiled).toEqual(fromSources);
  });

  it("is what the engine loads", async () => {
    const pack = await loadBuiltinPack();
    const fromSources = await loadPackDir(builtinRulesDir());
    expect(pack.version).toBe(fromSources.version);
    expect(pack.rules).toEqual(fromSources.rules);
    expect([...pack.indicators.entries()]).toEqual([...fromSources.indicators.entries()]);
    expect(pack.aliases).toEqual(fromSources.aliases);
    expect([...pack.boundMethods.entries()]).toEqual([...fromSources.boundMethods.entries()]);
  });
});
