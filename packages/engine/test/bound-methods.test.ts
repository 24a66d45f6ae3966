import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scanPaths } from "../src/index.js";
import { FIXTURES } from "./helpers.js";

const dir = join(FIXTURES, "bound-methods");
const CLI = join(import.meta.dirname, "..", "..", "cli", "bin", "modelvet.js");

async function getattrVerdict(file: string) {
  const report = await scanPaths([join(dir, file)]);
  const deps = report.file_security_reports[0]?.unsafe_dependencies ?? []; // passing files are not listed
  return { severity: report.severity, getattr: deps.find((d) => d.name === "getattr"), deps };
}

describe("getattr(<instance>, 'method') judged by (class, method) pairs", () => {
  it.each(["onecycle-cos.pt", "onecycle-linear.pt", "reconstructor-p0.pkl"])(
    "%s: a listed pair of an allowed scheduler passes",
    async (file) => {
      const { severity, getattr } = await getattrVerdict(file);
      expect(getattr).toBeUndefined();
      expect(severity).toBe(1);
    },
  );

  it.each(["onecycle-cos-p2.pkl", "onecycle-cos-p3.pkl", "onecycle-cos-p4.pkl", "onecycle-cos-p5.pkl"])(
    "%s: plain pickle of the scheduler state, getattr not reported",
    async (file) => {
      const { severity, getattr } = await getattrVerdict(file);
      expect(getattr).toBeUndefined();
      // Tensors under plain pickle go through torch.storage._load_from_bytes (Warning, read as nested pickles).
      expect(severity).toBeLessThanOrEqual(2);
    },
  );

  it("an unlisted method of an allowed class is Warning, naming the pair", async () => {
    const { severity, getattr } = await getattrVerdict("unlisted-method.pkl");
    expect(severity).toBe(2);
    expect(getattr?.severity).toBe(2);
    expect(getattr?.reason).toContain("OneCycleLR");
    expect(getattr?.reason).toContain("step");
  });

  it.each(["class-global.pkl", "qualified-listed.pkl"])(
    "%s: the listed function of an allowed class, fetched from the class or named by a qualified import, passes",
    async (file) => {
      const { severity, deps } = await getattrVerdict(file);
      expect(deps).toEqual([]);
      expect(severity).toBe(1);
    },
  );

  it("a qualified import of an unlisted function of an allowed class is Warning", async () => {
    const { severity, deps } = await getattrVerdict("qualified-unlisted.pkl");
    expect(severity).toBe(2);
    expect(deps.map((d) => `${d.module}.${d.name}`)).toEqual(["torch.optim.lr_scheduler.OneCycleLR.step"]);
  });

  it.each([
    "module.pkl",
    "class-unlisted.pkl",
    "class-dunder.pkl",
    "class-new-unlisted.pkl",
    "class-unallowed.pkl",
    "function-global.pkl",
    "dunder.pkl",
    "computed-name.pkl",
    "unallowed-class.pkl",
    "escaped.pkl",
  ])("%s stays Alert", async (file) => {
    const { severity, getattr } = await getattrVerdict(file);
    expect(severity).toBe(3);
    expect(getattr?.severity).toBe(3);
  });

  it("the CLI reports the same verdicts", () => {
    const scan = (file: string): { status: number; severity: number } => {
      const args = [CLI, "scan", "--format", "json", join(dir, file)];
      try {
        return {
          status: 0,
          severity: (JSON.parse(execFileSync(process.execPath, args).toString()) as { severity: number }).severity,
        };
      } catch (e) {
        const { status, stdout } = e as { status: number; stdout: Buffer };
        return { status, severity: (JSON.parse(String(stdout)) as { severity: number }).severity };
      }
    };
    expect(scan("onecycle-cos.pt")).toEqual({ status: 0, severity: 1 });
    expect(scan("unlisted-method.pkl").severity).toBe(2);
    expect(scan("class-global.pkl")).toEqual({ status: 0, severity: 1 });
    for (const file of ["dunder.pkl", "class-unlisted.pkl", "class-new-unlisted.pkl"]) {
      const alert = scan(file);
      expect(alert.severity, file).toBe(3);
      expect(alert.status, file).not.toBe(0);
    }
  });
});
