import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BufferSource, inspect, judge, loadClassifier } from "../src/index.js";
import { fixture } from "./helpers.js";

const classifier = await loadClassifier();
const DENIED_PREFIX = fixture("adversarial/o6-inst.pkl").subarray(0, 35); // "(S'echo …'\nios\nsystem\n" + STOP

async function grade(bytes: Uint8Array): Promise<number> {
  const inventory = await inspect(new BufferSource(bytes), { fileTimeoutMs: 5000 });
  return judge(inventory, classifier).severity;
}

describe("hostile bytes", () => {
  it("random bytes never crash or hang the scanner", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 2048 }), async (bytes) => {
        const started = Date.now();
        const severity = await grade(bytes);
        expect([1, 2, 3]).toContain(severity);
        expect(Date.now() - started).toBeLessThan(2000);
      }),
      { numRuns: 400 },
    );
  });

  it("a real pickle cut anywhere before its STOP is never Pass (fail closed)", async () => {
    const seeds = ["generated/002-p2.pkl", "generated/004-p4.pkl", "generated/005-p5.pkl", "generated/003-p3.pkl"].map(
      fixture,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: seeds.length - 1 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (i, cut) => {
          const seed = seeds[i]!;
          const at = 2 + Math.floor(cut * (seed.length - 3)); // keep PROTO, drop at least the STOP
          expect(await grade(seed.subarray(0, at))).toBeGreaterThanOrEqual(2);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a stream whose prefix imports a denied name is never Pass, whatever follows", async () => {
    const prefix = DENIED_PREFIX.subarray(0, DENIED_PREFIX.length - 1); // the INST without its STOP
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 256 }), async (tail) => {
        expect(await grade(new Uint8Array([...prefix, ...tail]))).toBe(3);
      }),
      { numRuns: 300 },
    );
  });

  it("mutations of real fixtures never crash", async () => {
    const seeds = [
      "adversarial/getattr-import-chain.pkl",
      "adversarial/o11-numpy-builtins-build.pkl",
      "generated/004-p4.pkl",
      "generated/000-p0.pkl",
    ].map(fixture);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: seeds.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        async (seedIndex, edits) => {
          const bytes = Uint8Array.from(seeds[seedIndex]!);
          for (const [at, value] of edits) bytes[at % bytes.length] = value;
          expect([1, 2, 3]).toContain(await grade(bytes));
        },
      ),
      { numRuns: 300 },
    );
  });
});
