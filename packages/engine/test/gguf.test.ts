import { readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeTemplate } from "../src/formats/jinja.js";
import { FIXTURES, SHARED, describeShared, scanFile, concatBytes, tempFolder } from "./helpers.js";

const DIR = join(FIXTURES, "formats", "gguf");
const TEMPLATES = join(FIXTURES, "formats", "templates");
const scan = scanFile;

const kinds = (template: string): string[] => analyzeTemplate(template).map((f) => `${f.kind}:${f.name}`);

describe("chat template analysis", () => {
  it.each(["llama3.jinja", "chatml.jinja", "mistral.jinja", "deepseek_r1.jinja", "gemma.jinja", "tools_macro.jinja"])(
    "finds nothing in the real-world template %s",
    (name) => {
      expect(analyzeTemplate(readFileSync(join(TEMPLATES, name), "utf8"))).toEqual([]);
    },
  );

  it.each([
    [
      "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
      ["gadget:cycler", "dunder:__init__", "dunder:__globals__", "dangerous_name:popen"],
    ],
    ["{{ joiner.__init__.__globals__ }}", ["gadget:joiner"]],
    ["{{ namespace.__init__.__globals__ }}", ["gadget:namespace"]],
    ["{{ self.__init__.__globals__.__builtins__ }}", ["gadget:self", "dunder:__builtins__"]],
    ["{{ messages|attr('__cla' ~ 'ss__') }}", ["dunder:__class__"]],
    ["{{ x[['__cl', 'ass__']|join] }}", ["dunder:__class__"]],
    ["{{ x['__SSALC__'|lower|reverse] }}", ["dunder:__class__"]],
    ["{{ x['\\x5f\\x5fmro\\x5f\\x5f'] }}", ["dunder:__mro__"]],
    ["{{ x|attr(request.args.a) }}", ["dynamic_attribute:attr", "ssti_global:request"]],
    ["{{ config.items() }}", ["ssti_global:config"]],
    ["{{ url_for.__globals__ }}", ["ssti_global:url_for", "dunder:__globals__"]],
    ["{{ eval('1+1') }}", ["dangerous_name:eval"]],
    ["{{ x.__getattribute__('y') }}", ["dunder:__getattribute__"]],
    ["{{ ''.__class__.__mro__[1].__subclasses__() }}", ["dunder:__class__", "dunder:__mro__", "dunder:__subclasses__"]],
  ])("flags %s", (template, expected) => {
    expect(kinds(template)).toEqual(expect.arrayContaining(expected));
  });

  it("includes the offending expression text", () => {
    const [finding] = analyzeTemplate("{% for m in messages %}{{ m.__class__.__name__ }}{% endfor %}");
    expect(finding?.expression).toBe("m.__class__.__name__");
  });

  it("does not flag names the template binds itself, or namespace() calls", () => {
    expect(analyzeTemplate("{% set os = 1 %}{{ os }}{% set ns = namespace(found=false) %}{{ ns.found }}")).toEqual([]);
  });

  it("reports unparseable templates and still searches their tokens", () => {
    expect(kinds("{% for m in %}")).toEqual(["unparseable:Unexpected token: CloseStatement"]);
    expect(kinds("{% include '/etc/passwd' %}")).toEqual(
      expect.arrayContaining(["dangerous_name:{% include %}", "unparseable:Unknown statement type: include"]),
    );
    // The CVE-2024-34359 payload uses `()`, which the parser rejects: the token search still finds it.
    expect(kinds("{% for x in ().__class__.__base__.__subclasses__() %}{% endfor %}")).toEqual(
      expect.arrayContaining(["dunder:__subclasses__", "dunder:__base__"]),
    );
  });

  it("survives hostile nesting and size", () => {
    expect(kinds(`{{ ${"(".repeat(20000)}1${")".repeat(20000)} }}`)[0]).toMatch(/^unparseable:/);
    const big = "{{ x }}".repeat(200_000);
    // Cut mid-tag, the analysed prefix may also be unparseable; either way the file is not Pass.
    expect(kinds(big)).toContain(`too_large:${big.length} characters`);
  });
});

describe("gguf", () => {
  it.each(["llama3_chat.gguf", "named_templates.gguf"])("passes %s", async (name) => {
    const { report, inventory } = await scan(join(DIR, name));
    expect(inventory.formats).toEqual(["gguf"]);
    expect(report.indicators).toEqual([]);
    expect(report.severity).toBe(1);
  });

  it("alerts on a payload in a named template variant", async () => {
    const { report, messages } = await scan(join(DIR, "ssti_named_variant.gguf"));
    expect(report.severity).toBe(3);
    expect(messages).toContainEqual(
      expect.stringMatching(/^tokenizer\.chat_template\.tool_use: attribute access on the global cycler/),
    );
  });

  it.each(["ssti_obfuscated.gguf", "v1_ssti.gguf"])("alerts on %s", async (name) => {
    const { report, ids } = await scan(join(DIR, name));
    expect(report.severity).toBe(3);
    expect(ids).toContain("gguf.chat_template.dunder");
  });

  it("warns on an unparseable template", async () => {
    const { report, ids } = await scan(join(DIR, "unparseable.gguf"));
    expect(ids).toEqual(["gguf.chat_template.unparseable"]);
    expect(report.severity).toBe(2);
  });

  it.each([
    ["bad_version.gguf", /unsupported GGUF version 7/],
    ["big_endian.gguf", /big-endian/],
    ["absurd_kv_count.gguf", /KV count .* cannot fit/],
    ["absurd_tensor_count.gguf", /tensor count .* cannot fit/],
    ["huge_string.gguf", /bytes claimed but only/],
    ["truncated.gguf", /claimed but only|file ends inside/],
    ["unknown_type.gguf", /unknown value type 99/],
    ["deep_arrays.gguf", /nested deeper than/],
  ])("warns on structural damage: %s", async (name, message) => {
    const { report, inventory } = await scan(join(DIR, name));
    expect(report.severity).toBe(2);
    expect(inventory.indicators.map((i) => i.id)).toEqual(["gguf.malformed"]);
    expect(inventory.indicators[0]!.message).toMatch(message);
  });

  describe("a multi-GB sparse file", () => {
    const folder = tempFolder("gguf");

    it("is judged from its KV section after reading only kilobytes", async () => {
      const template = readFileSync(join(TEMPLATES, "llama3.jinja"), "utf8");
      const scores = 200_000; // an f32 array skipped in one seek
      const head = ggufHeader([
        ["general.architecture", str("llama")],
        ["tokenizer.ggml.scores", f32Array(scores)],
        ["tokenizer.chat_template", str(template)],
      ]);
      const size = 5 * 1024 ** 3;
      const path = join(folder(), "big.gguf");
      const file = await open(path, "w");
      await file.write(head, 0, head.length, 0);
      await file.truncate(size);
      await file.close();
      const { inventory, report } = await scan(path);
      expect(inventory.size).toBe(size);
      expect(inventory.formats).toEqual(["gguf"]);
      expect(report.severity).toBe(1);
      expect(inventory.bytes_read).toBeLessThan(64 * 1024);
    });
  });
});

// ---- a minimal GGUF v3 writer (spec: magic, version, tensor count, KV count, KV pairs) ----

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

function gstring(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  return concat([u64(bytes.length), bytes]);
}

/** A typed value: type id then payload. */
function str(text: string): Uint8Array {
  return concat([u32(8), gstring(text)]);
}

function f32Array(count: number): Uint8Array {
  return concat([u32(9), u32(6), u64(count), new Uint8Array(count * 4)]);
}

function ggufHeader(kvs: Array<[string, Uint8Array]>): Uint8Array {
  const parts = [new TextEncoder().encode("GGUF"), u32(3), u64(1), u64(kvs.length)];
  for (const [key, value] of kvs) parts.push(gstring(key), value);
  // One tensor info: name, n_dims, dims, type F32, offset 0.
  parts.push(gstring("token_embd.weight"), u32(1), u64(1024), u32(0), u64(0));
  return concat(parts);
}

const concat = (parts: Uint8Array[]): Uint8Array => concatBytes(...parts);

describeShared("gguf files of the shared corpus", () => {
  it("passes the corpus benign file and alerts on the corpus SSTI file", async () => {
    expect((await scan(join(SHARED, "corpus", "benign", "gguf", "tiny_chat.gguf"))).report.severity).toBe(1);
    const { report, messages } = await scan(join(SHARED, "corpus", "malicious", "gguf", "ssti_chat_template.gguf"));
    expect(report.severity).toBe(3);
    for (const name of ["__subclasses__", "__builtins__", "__import__"])
      expect(messages.some((m) => m.includes(`access to ${name}`))).toBe(true);
  });
});
