import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES, scanFile } from "./helpers.js";
import { BufferSource, inspect, judge, loadClassifier } from "../src/index.js";

const DIR = join(FIXTURES, "formats", "yaml");

/** The dotted names a report judged, with their severity. */
function judged(report: Awaited<ReturnType<typeof scanFile>>["report"]): Record<string, number> {
  return Object.fromEntries(
    report.unsafe_dependencies.map((d) => [d.name ? `${d.module}.${d.name}` : d.module, d.severity]),
  );
}

describe("YAML python tags", () => {
  it.each([
    ["apply_os_system.yaml", "os.system"],
    ["hparams_nested.yaml", "subprocess.check_output"],
    ["tag_directive.yaml", "posix.system"],
    ["primary_handle.yaml", "builtins.eval"],
    ["verbatim.yml", "builtins.exec"],
    ["module.yaml", "os"],
    ["second_document.yaml", "os.popen"],
    ["tag_on_key.yaml", "os.system"],
  ])("%s: the callable %s is judged like a pickle global (Alert)", async (file, name) => {
    const { report, inventory } = await scanFile(join(DIR, "malicious", file));
    expect(inventory.formats).toContain("yaml");
    expect(report.severity).toBe(3);
    expect(judged(report)[name]).toBe(3);
    const dep = report.unsafe_dependencies.find((d) => (d.name ? `${d.module}.${d.name}` : d.module) === name)!;
    expect(dep.call).toMatch(/^!!python\/(object|name|module)/);
    expect(inventory.imports.every((i) => i.opcode === "yaml-tag")).toBe(true);
  });

  it("a file that does not parse is a Warning, and the python tags in its text are still judged", async () => {
    const broken = await scanFile(join(DIR, "malicious", "invalid_with_tag.yaml"));
    expect(broken.ids).toContain("yaml.invalid");
    expect(judged(broken.report)["os.system"]).toBe(3);
    expect(broken.report.severity).toBe(3);
    const plain = await scanFile(join(DIR, "suspicious", "invalid.yaml"));
    expect(plain.ids).toEqual(["yaml.invalid"]);
    expect(plain.report.severity).toBe(2);
  });

  it("an unknown callable is a Warning, as the same pickle global would be", async () => {
    const { report } = await scanFile(join(DIR, "suspicious", "unknown_callable.yaml"));
    expect(report.severity).toBe(2);
    expect(judged(report)["mylib.helpers.run"]).toBe(2);
    const classifier = await loadClassifier();
    expect(classifier.classify("mylib.helpers", "run").severity).toBe(2);
  });

  it("nesting beyond the limit is a Warning naming it; an unknown python tag is a Warning", async () => {
    const deep = await scanFile(join(DIR, "suspicious", "deep.yaml"));
    expect(deep.report.severity).toBe(2);
    expect(deep.messages.join("\n")).toMatch(/nested deeper than 1000/);
    const unknown = await scanFile(join(DIR, "suspicious", "unknown_python_tag.yaml"));
    expect(unknown.ids).toEqual(["yaml.unknown_python_tag"]);
  });

  it.each(["hparams.yaml", "safe_dump.yml", "config.yaml", "laughs.yaml"])(
    "benign %s passes (allowed tags judged as allowed, aliases never expanded)",
    async (file) => {
      const started = Date.now();
      const { report, inventory } = await scanFile(join(DIR, "benign", file));
      expect(inventory.formats).toEqual(["yaml"]);
      expect(report.severity).toBe(1);
      expect(Date.now() - started).toBeLessThan(5000);
    },
  );

  it("reads the allowed tags of a real hparams.yaml as imports", async () => {
    const { inventory } = await scanFile(join(DIR, "benign", "hparams.yaml"));
    expect(inventory.imports.map((i) => `${i.module}.${i.name}`).sort()).toEqual([
      "argparse.Namespace",
      "collections.OrderedDict",
    ]);
  });

  it("recognises YAML by a leading directive whatever the name, and ignores other text", async () => {
    const classifier = await loadClassifier();
    const text = "%YAML 1.1\n---\nx: !!python/object/apply:os.system [id]\n";
    const named = await inspect(new BufferSource(new TextEncoder().encode(text), "settings.cfg"));
    expect(judge(named, classifier).severity).toBe(3);
    const other = await inspect(
      new BufferSource(new TextEncoder().encode("x: !!python/object/apply:os.system [id]\n"), "notes.md"),
    );
    expect(other.formats).not.toContain("yaml");
  });
});

describe("YAML and templates inside archives", () => {
  it("are recognised by their member names (a tar of a Lightning run folder)", async () => {
    const { ustar } = await import("./containers-helpers.js");
    const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
    const tar = ustar([
      { name: "run/hparams.yaml", data: encode("lr: 0.1\ncb: !!python/object/apply:os.system [id]\n") },
      { name: "run/prompt.template", data: encode("{{ cycler.__init__.__globals__.os.popen('id') }}") },
      { name: "run/notes.md", data: encode("cb: !!python/object/apply:os.system [id]\n") },
    ]);
    const classifier = await loadClassifier();
    const inventory = await inspect(new BufferSource(tar, "run.tar"));
    const report = judge(inventory, classifier);
    expect(report.severity).toBe(3);
    expect(inventory.imports.map((i) => [i.member, `${i.module}.${i.name}`])).toEqual([
      ["run/hparams.yaml", "os.system"],
    ]);
    expect(inventory.indicators.filter((i) => i.id === "template.gadget").map((i) => i.member)).toEqual([
      "run/prompt.template",
    ]);
  });
});

describe("hostile YAML", () => {
  it("mutated fixtures never throw, and a python tag left intact is always judged", async () => {
    const { readFileSync } = await import("node:fs");
    const base = readFileSync(join(DIR, "malicious", "hparams_nested.yaml"), "utf8");
    const intact = base.slice(0, base.indexOf(" [[curl"));
    const classifier = await loadClassifier();
    let seed = 7;
    // mulberry32: a deterministic generator exact in 32-bit integer arithmetic
    const random = (n: number): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const noise = ["[", "]", "{", "}", "&a ", "*a", "!!", "%TAG ! tag:x\n", ":", "- ", "\t", '"', "'", "\n  "];
    let intactRounds = 0;
    for (let round = 0; round < 200; round++) {
      let text = base;
      for (let k = 0; k < 4; k++) {
        // Every other round damages only what follows the tag.
        const from = round % 2 === 0 ? intact.length : 0;
        const at = from + random(text.length - from);
        text = text.slice(0, at) + noise[random(noise.length)]! + text.slice(at + random(3));
      }
      const inventory = await inspect(new BufferSource(new TextEncoder().encode(text), "hparams.yaml"));
      const report = judge(inventory, classifier);
      // With everything up to the tag intact, the tag is a tag (whatever follows): parsed, or found in the raw
      // text of a file that no longer parses. Mutations before it may rightly turn it into part of a string.
      if (text.startsWith(intact)) {
        intactRounds++;
        expect(report.severity, text).toBe(3);
      } else expect(report.severity, text).toBeGreaterThanOrEqual(1);
    }
    expect(intactRounds).toBeGreaterThan(20);
  });

  it("reads UTF-16 files with a byte-order mark, as PyYAML does", async () => {
    const classifier = await loadClassifier();
    const text = "x: !!python/object/apply:os.system [id]\n";
    const le = new Uint8Array([0xff, 0xfe, ...Buffer.from(text, "utf16le")]);
    const be = new Uint8Array([0xfe, 0xff, ...Buffer.from(text, "utf16le").swap16()]);
    for (const bytes of [le, be]) {
      const report = judge(await inspect(new BufferSource(bytes, "config.yaml")), classifier);
      expect(report.unsafe_dependencies.map((d) => `${d.module}.${d.name}`)).toEqual(["os.system"]);
    }
  });

  it("stays bounded on long lines, many aliases and many documents", async () => {
    const classifier = await loadClassifier();
    const cases = [
      `a: ${"x".repeat(4_000_000)}\n`,
      `a: &a [1]\n${Array.from({ length: 50_000 }, (_, i) => `k${i}: *a`).join("\n")}\n`,
      Array.from({ length: 20_000 }, (_, i) => `--- ${i}`).join("\n"),
    ];
    for (const text of cases) {
      const started = Date.now();
      const report = judge(await inspect(new BufferSource(new TextEncoder().encode(text), "x.yaml")), classifier);
      expect(report.severity).toBeLessThanOrEqual(2);
      expect(Date.now() - started).toBeLessThan(10_000);
    }
  });
});
