import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const BIN = join(ROOT, "node_modules", ".bin", "modelvet");
const FIXTURES = join(ROOT, "packages", "engine", "test", "fixtures");

interface Report {
  severity: number;
  file_security_reports: Array<{
    path: string;
    severity: number;
    formats: string[];
    unsafe_dependencies: Array<{ module: string; name: string; severity: number }>;
    indicators: Array<{ id: string; severity: number }>;
  }>;
  scanned_files: Array<{ path: string; severity: number }>;
}

/** Scans a folder with the CLI (no cache) and returns file name → [severity, finding ids and names]. */
function scanFolder(folder: string): Map<string, { severity: number; findings: string[] }> {
  const run = spawnSync(BIN, ["scan", "--format", "json", "--no-cache", join(FIXTURES, folder)], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    maxBuffer: 1 << 26,
  });
  expect(run.stderr).toBe("");
  const report = JSON.parse(run.stdout) as Report;
  const out = new Map<string, { severity: number; findings: string[] }>();
  // Every scanned file, Pass included; findings from the reports of the files that have some.
  for (const file of report.scanned_files)
    out.set(file.path.split("/").pop()!, { severity: file.severity, findings: [] });
  for (const file of report.file_security_reports)
    out
      .get(file.path.split("/").pop()!)!
      .findings.push(
        ...file.unsafe_dependencies.map((d) => `${d.module}.${d.name}`),
        ...file.indicators.map((i) => i.id),
      );
  return out;
}

describe("modelvet scan: formats and members that run code", () => {
  it("YAML python tags are judged like pickle imports; benign configs pass", () => {
    const bad = scanFolder("formats/yaml/malicious");
    expect(bad.size).toBe(9);
    for (const [name, file] of bad) expect(file.severity, name).toBe(3);
    expect(bad.get("tag_directive.yaml")!.findings).toContain("posix.system");
    const good = scanFolder("formats/yaml/benign");
    expect(good.size).toBe(4);
    for (const [name, file] of good) expect(file.severity, name).toBe(1);
  });

  it("Jinja templates found by content are Alert wherever they sit; real templates pass", () => {
    const bad = scanFolder("formats/by-content/malicious");
    expect(bad.size).toBe(14);
    for (const [name, file] of bad) expect(file.severity, name).toBe(3);
    expect(bad.get("system.txt")!.findings).toContain("template.gadget");
    const good = scanFolder("formats/by-content/benign");
    expect(good.size).toBe(6);
    for (const [name, file] of good) expect(file.severity, name).toBe(1);
  });

  it("Keras safe-mode gadgets and nested Lambda layers are Alert in .keras and .h5", () => {
    const files = scanFolder("keras/gadgets");
    expect(files.size).toBeGreaterThanOrEqual(16);
    for (const [name, file] of files) expect(file.severity, name).toBe(3);
    expect(files.get("unsafe_toggle.keras")!.findings).toEqual(
      expect.arrayContaining(["keras.config.enable_unsafe_deserialization", "keras.lambda"]),
    );
    expect(files.get("get_file.h5")!.findings).toContain("keras.utils.get_file");
  });

  it("torch.package sources are Alert; an archive of pickles only is not", () => {
    const files = scanFolder("formats/torch-package");
    expect(files.get("malicious_source.pt")!.findings).toContain("torch_package.source");
    expect(files.get("rootless_source.pt")!.severity).toBe(3);
    expect(files.get("pickles_only.pt")!.severity).toBe(1);
  });
});
