import { describe, expect, it } from "vitest";
import { ADVERSARIAL, fixture, globalsOf, scanBytes } from "./helpers.js";

describe("symbolic machine on hand-assembled streams", () => {
  it.each(ADVERSARIAL.map((c) => [c.file, c] as const))("%s", async (_name, c) => {
    const scan = await scanBytes(fixture(`adversarial/${c.file}`));
    const globals = globalsOf(scan);
    for (const g of c.globals) expect(globals).toContain(g);
    const ids = scan.indicators.map((i) => i.id);
    for (const id of c.indicators) expect(ids).toContain(id);
  });

  it("renders the call that would run, with its constant arguments", async () => {
    const scan = await scanBytes(fixture("adversarial/getattr-import-chain.pkl"));
    const system = scan.imports.find((i) => i.module === "os" && i.name === "system");
    expect(system?.via).toBe("builtins.getattr");
    expect(system?.calls[0]).toBe("builtins.getattr(builtins.__import__('os'), 'system')('echo modelvet-test')");
    const imp = scan.imports.find((i) => i.module === "builtins" && i.name === "__import__");
    expect(imp?.calls[0]).toBe("builtins.__import__('os')");
  });

  it("resolves methodcaller and partial to the callable they run", async () => {
    const mc = await scanBytes(fixture("adversarial/methodcaller-importlib.pkl"));
    expect(mc.imports.find((i) => i.module === "os" && i.name === "system")?.calls[0]).toContain(
      "'echo modelvet-test'",
    );
    const partial = await scanBytes(fixture("adversarial/partial-wraps-system.pkl"));
    const system = partial.imports.find((i) => i.module === "posix" && i.name === "system");
    expect(system?.calls[0]).toBe("functools.partial(posix.system, 'echo modelvet-test')()");
  });

  it("reports the offset of each import and keeps findings made before a break", async () => {
    const scan = await scanBytes(fixture("adversarial/c11-broken-after-payload.pkl"));
    expect(scan.imports[0]).toMatchObject({ module: "builtins", name: "exec", offsets: [0] });
    expect(scan.clean).toBe(false);
    const truncated = scan.indicators.find((i) => i.id === "pickle.truncated");
    expect(truncated?.offset).toBe(16);
  });

  it("scans every pickle in a stream", async () => {
    const scan = await scanBytes(fixture("adversarial/two-pickles.pkl"));
    expect(scan.pickles).toBe(2);
    expect(globalsOf(scan)).toEqual(["posix.system"]);
  });

  it("stops after the requested number of pickles", async () => {
    const scan = await scanBytes(fixture("adversarial/two-pickles.pkl"), { stopAfter: 1 });
    expect(scan.pickles).toBe(1);
    expect(scan.imports).toEqual([]);
  });

  it("records the byte payload handed to pickle.loads for a nested scan", async () => {
    const scan = await scanBytes(fixture("adversarial/o12-nested-pickle-loads.pkl"));
    expect(scan.nested).toHaveLength(1);
    expect(scan.nested[0]).toMatchObject({ loader: "pickle.loads", at: 20 });
  });

  it("treats a string cut at the keep limit as an unknown global, not a known one", async () => {
    const long = "a".repeat(300);
    const bytes = Buffer.concat([
      Buffer.from([0x80, 0x04, 0x58]),
      Buffer.from(Uint32Array.of(long.length).buffer),
      Buffer.from(long),
      Buffer.from([0x8c, 0x06]),
      Buffer.from("system"),
      Buffer.from([0x93, 0x2e]),
    ]);
    const scan = await scanBytes(bytes);
    expect(scan.indicators.map((i) => i.id)).toContain("pickle.unresolved_global");
  });

  it("expands nothing: a billion-laughs stream stays small and finishes", async () => {
    const started = Date.now();
    const scan = await scanBytes(fixture("adversarial/o15-billion-laughs.pkl"));
    expect(scan.clean).toBe(true);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("turns limits into findings", async () => {
    const scan = await scanBytes(fixture("adversarial/o15-billion-laughs.pkl"), { limits: { maxOpcodes: 100 } });
    expect(scan.indicators.map((i) => i.id)).toEqual(["pickle.limit"]);
    const memo = await scanBytes(fixture("adversarial/o15-billion-laughs.pkl"), { limits: { maxMemo: 3 } });
    expect(memo.indicators[0]?.message).toContain("memo");
    const stack = await scanBytes(fixture("adversarial/o15-billion-laughs.pkl"), { limits: { maxStackDepth: 10 } });
    expect(stack.indicators[0]?.message).toContain("stack");
  });

  it("never allocates a payload's declared size", async () => {
    const scan = await scanBytes(fixture("adversarial/huge-binbytes8-claim.pkl"));
    expect(scan.indicators.map((i) => i.id)).toEqual(["pickle.truncated"]);
  });
});
