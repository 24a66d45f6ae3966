import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES, scanFile } from "./helpers.js";
import { packageMemberKind, summarizePythonSource, torchPackageRoots } from "../src/formats/torch-package.js";

const DIR = join(FIXTURES, "formats", "torch-package");

function sourcesOf(inventory: Awaited<ReturnType<typeof scanFile>>["inventory"]): Record<string, string> {
  return Object.fromEntries(
    inventory.indicators.filter((i) => i.id === "torch_package.source").map((i) => [i.member, i.message]),
  );
}

describe("torch.package archives", () => {
  it("every .py source is Alert, listing its imports and calls; the pickles are judged as usual", async () => {
    const { report, inventory } = await scanFile(join(DIR, "malicious_source.pt"));
    expect(inventory.formats).toEqual(expect.arrayContaining(["zip", "torch-package", "pickle"]));
    expect(report.severity).toBe(3);
    const sources = sourcesOf(inventory);
    expect(Object.keys(sources).sort()).toEqual([
      "model/models/__init__.py",
      "model/models/evil.py",
      "model/models/net.py",
    ]);
    expect(sources["model/models/evil.py"]).toMatch(
      /imports: os, sys, subprocess\.Popen, subprocess\.check_output, importlib; calls: os\.system\(, exec\(, compile\(, __import__\(/,
    );
    expect(sources["model/models/net.py"]).toMatch(/imports: torch, torch\.nn; calls: none found/);
    expect(report.unsafe_dependencies.map((d) => `${d.module}.${d.name}`)).toEqual(["models.net.Net"]);
  });

  it.each([
    ["deflated_source.pt", ["pkg/helpers/__init__.py", "pkg/helpers/run.py"]],
    ["benign_source.pt", ["model/models/net.py"]],
    ["rootless_source.pt", ["net.py"]],
  ])("%s: its sources are found (deflated, any root, benign-looking code too)", async (file, members) => {
    const { report, inventory } = await scanFile(join(DIR, file));
    expect(report.severity).toBe(3);
    expect(Object.keys(sourcesOf(inventory)).sort()).toEqual(members);
  });

  it("an archive with pickles only reads as before: metadata records and storages are not taken for pickles", async () => {
    const { report, inventory } = await scanFile(join(DIR, "pickles_only.pt"));
    expect(inventory.formats).toContain("torch-package");
    expect(report.severity).toBe(1);
    expect(inventory.imports.map((i) => `${i.module}.${i.name}`)).toEqual(["collections.OrderedDict"]);
  });

  it("recognises the layout and classifies members", () => {
    const roots = torchPackageRoots(["a/.data/version", "a/x.py", "b/.data/extern_modules", "c/data.pkl"]);
    expect([...roots].sort()).toEqual(["a", "b"]);
    expect(packageMemberKind("a/x/y.py", roots)).toBe("source");
    expect(packageMemberKind("a/.data/extern_modules", roots)).toBe("metadata");
    expect(packageMemberKind("a/.data/3.storage", roots)).toBe("storage");
    expect(packageMemberKind("a/.data/odd.py", roots)).toBeUndefined();
    expect(packageMemberKind("c/x.py", roots)).toBeUndefined();
  });

  it("summarises Python imports and calls line by line", () => {
    const summary = summarizePythonSource(
      [
        "import a.b as c, d",
        "from . import sibling",
        "from .pkg import (x,",
        "    y as z)",
        "from m import *",
        "# os.system('not a call')",
        "subprocess.Popen(['id']); eval('1')",
        "x = obj.exec(1)",
      ].join("\n"),
    );
    expect(summary.imports).toEqual(["a.b", "d", ".sibling", ".pkg.x", ".pkg.y", "m"]);
    expect(summary.calls).toEqual(["subprocess.Popen(", "eval("]);
  });
});
