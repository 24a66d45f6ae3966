import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES, scanFile } from "./helpers.js";
import { BufferSource, inspect, judge, loadClassifier } from "../src/index.js";
import { analyzeTemplate } from "../src/formats/jinja.js";

const DIR = join(FIXTURES, "formats", "by-content");
const TEMPLATES = join(FIXTURES, "formats", "templates");

describe("Jinja templates judged by content", () => {
  it.each([
    ["prompt.template", "template.dunder", /__subclasses__/],
    ["system.txt", "template.gadget", /cycler/],
    ["template", "template.dunder", /__globals__/],
    ["render.tmpl", "template.dunder", /__globals__/],
    ["flask.txt", "template.ssti_global", /config/],
    ["prompt.j2", "chat_template.gadget", /self/],
    ["generation_config.json", "template.gadget", /JSON field prompts\.system\[1\]/],
    ["config.json", "template.ssti_global", /JSON field prompt_template/],
    ["processor_config.json", "template.dunder", /__builtins__/],
    ["tokenizer_config.json", "chat_template.gadget", /chat_template\[rag\]/],
    ["chat_template.json", "chat_template.dunder", /__class__/],
    ["description_key.gguf", "template.gadget", /GGUF key general\.description/],
    ["unlisted_key.gguf", "template.dunder", /GGUF key tokenizer\.ggml\.chat_tmpl/],
    ["duplicate_key.gguf", "gguf.chat_template.dunder", /__globals__/],
  ])("%s is Alert (%s)", async (file, id, message) => {
    const { report } = await scanFile(join(DIR, "malicious", file));
    expect(report.severity).toBe(3);
    const finding = report.indicators.filter((i) => i.id === id);
    expect(finding.length).toBeGreaterThan(0);
    expect(finding.map((f) => f.message).join("\n")).toMatch(message);
    expect(finding[0]!.severity).toBe(3);
  });

  it.each(readdirSync(join(DIR, "benign")))("benign %s passes", async (file) => {
    const { report } = await scanFile(join(DIR, "benign", file));
    expect(report.indicators).toEqual([]);
    expect(report.severity).toBe(1);
  });

  it.each(readdirSync(TEMPLATES))(
    "the real template %s passes as a .txt, a bare file and a JSON field",
    async (file) => {
      const classifier = await loadClassifier();
      const { readFile } = await import("node:fs/promises");
      const text = await readFile(join(TEMPLATES, file), "utf8");
      const carriers = [
        new BufferSource(new TextEncoder().encode(text), "prompt.txt"),
        new BufferSource(new TextEncoder().encode(text), "models/x/TEMPLATE"),
        new BufferSource(new TextEncoder().encode(JSON.stringify({ a: { b: [text] } })), "settings.json"),
      ];
      for (const source of carriers) expect(judge(await inspect(source), classifier).severity, source.name).toBe(1);
    },
  );

  it("leaves binary files, Python sources and markdown alone", async () => {
    const payload = "{{ ''.__class__.__mro__[1].__subclasses__() }}";
    for (const name of ["notes.md", "model.py", "weights.bin"]) {
      const inventory = await inspect(new BufferSource(new TextEncoder().encode(payload), name));
      expect(
        inventory.indicators.filter((i) => i.id.startsWith("template.")),
        name,
      ).toEqual([]);
    }
    const binary = new TextEncoder().encode(`\0\0${payload}`);
    const inventory = await inspect(new BufferSource(binary, "template"));
    expect(inventory.indicators.filter((i) => i.id.startsWith("template."))).toEqual([]);
  });
});

describe("dunder names built without writing them", () => {
  it.each([
    "{{ x['_'*2 ~ 'class' ~ '_'*2] }}",
    "{{ x[2*'_' ~ 'class' ~ '__'] }}",
    "{% set c = dict(__class__=1)|list|first %}{{ x[c] }}",
    "{{ x|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{{ x|attr(['_','_','class','_','_']|join) }}",
    "{{ x['__cla' 'ss__'] }}",
  ])("%s reaches __class__", (template) => {
    expect(analyzeTemplate(template).map((f) => `${f.kind}:${f.name}`)).toContain("dunder:__class__");
  });

  it("ordinary repetition and keyword arguments are not findings", () => {
    expect(analyzeTemplate("{{ '-' * 80 }}{% set ns = namespace(found=false) %}{{ ns.found }}")).toEqual([]);
  });
});
