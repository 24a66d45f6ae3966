import type { ByteSource } from "../source/byte-source.js";
import type { FormatContext, FormatHandler, Probe } from "./types.js";
import { baseName, parseJsonLenient, walkKerasConfig } from "./keras.js";

/**
 * TensorFlow SavedModel (`saved_model.pb`) and the Keras layer metadata beside it (`keras_metadata.pb`), read
 * without TensorFlow.
 *
 * A SavedModel's graphs run TensorFlow ops, not Python, but some ops reach the file system, the network or
 * registered Python callbacks (`ReadFile`, `WriteFile`, `PyFunc`…). Every op named by a node of every meta
 * graph's `graph_def` and of every `library.function[].node_def` is recorded as an import
 * `tensorflow.raw_ops.<Op>`, so the rules pack judges ops the same way it judges pickle globals (an op on no rule is
 * Warning). Nodes whose op is the name of a library function are calls of that function, whose body is read too.
 *
 * The protobuf is walked straight from the source with a small wire-format reader that descends only into the
 * fields of the subset schema in `proto/savedmodel_subset.proto` and jumps over everything else (constant tensors
 * can make a graph hundreds of megabytes), so memory stays bounded whatever the file size.
 */

const WINDOW = 64 * 1024;
/** Nested groups protobuf's C++ parser accepts (its default recursion limit). */
const MAX_GROUP_DEPTH = 100;
/** Messages visited in one file (nodes, functions, meta graphs). */
const MAX_MESSAGES = 5_000_000;
/** Longest op or function name read; registered op names are short identifiers. */
const MAX_NAME = 1024;
/** Longest keras_metadata JSON string read into memory. */
const MAX_METADATA_JSON = 64 << 20;
/** Distinct ops recorded. */
const MAX_OPS = 10_000;
const OP_NAME = /^[A-Za-z0-9_.>-]+$/;

class WireError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** One field of a message: its number, wire type, and the payload range (or the varint value). */
interface Field {
  number: number;
  wireType: number;
  start: number;
  end: number;
  value: number;
}

/** Reads protobuf wire format from a source through a sliding window. */
class Wire {
  private window: Uint8Array = new Uint8Array(0);
  private windowStart = 0;
  messages = 0;

  constructor(
    readonly source: ByteSource,
    private readonly deadline: number,
  ) {}

  private async byteAt(pos: number): Promise<number> {
    if (pos < this.windowStart || pos >= this.windowStart + this.window.length) {
      this.window = await this.source.read(pos, WINDOW);
      this.windowStart = pos;
      if (this.window.length === 0) throw new WireError("message runs past the end of the file", pos);
    }
    return this.window[pos - this.windowStart]!;
  }

  /** A base-128 varint as a number; values above 2^53 only matter as lengths, where they are invalid anyway. */
  async varint(pos: number, end: number): Promise<{ value: number; next: number }> {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos + i >= end) throw new WireError("varint runs past the end of its message", pos);
      const b = await this.byteAt(pos + i);
      value += (b & 0x7f) * scale;
      scale *= 128;
      if (b < 0x80) return { value, next: pos + i + 1 };
    }
    throw new WireError("varint longer than 10 bytes", pos);
  }

  async text(field: Field, max: number): Promise<string | undefined> {
    if (field.end - field.start > max) return undefined;
    return new TextDecoder("utf-8").decode(await this.source.read(field.start, field.end - field.start));
  }

  /** The fields of the message in [start, end), in order; a malformed one throws WireError. */
  async *fields(start: number, end: number): AsyncGenerator<Field> {
    let pos = start;
    while (pos < end) {
      if (++this.messages % 4096 === 0 && Date.now() > this.deadline) throw new WireError("time budget exhausted", pos);
      const tag = await this.varint(pos, end);
      const field = await this.field(tag.value, tag.next, end);
      pos = field.end;
      yield field;
    }
  }

  private async field(tag: number, pos: number, end: number): Promise<Field> {
    const number = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (number === 0) throw new WireError("field number 0", pos);
    const at = (fieldEnd: number, value = 0): Field => {
      if (fieldEnd > end) throw new WireError(`field ${number} runs past the end of its message`, pos);
      return { number, wireType, start: pos, end: fieldEnd, value };
    };
    switch (wireType) {
      case 0: {
        const v = await this.varint(pos, end);
        return at(v.next, v.value);
      }
      case 1:
        return at(pos + 8);
      case 2: {
        const len = await this.varint(pos, end);
        return { ...at(len.next + len.value), start: len.next };
      }
      case 3:
        return at(await this.skipGroup(number, pos, end));
      case 5:
        return at(pos + 4);
      default:
        throw new WireError(`wire type ${wireType} of field ${number}`, pos);
    }
  }

  /** Skips a (deprecated) group up to its end tag, iteratively, with protobuf's nesting limit. */
  private async skipGroup(number: number, pos: number, end: number): Promise<number> {
    const open = [number];
    while (open.length > 0) {
      if (open.length > MAX_GROUP_DEPTH) throw new WireError("groups nested too deeply", pos);
      const tag = await this.varint(pos, end);
      const inner = Math.floor(tag.value / 8);
      const type = tag.value % 8;
      if (type === 4) {
        if (open.pop() !== inner) throw new WireError("mismatched end-group tag", pos);
        pos = tag.next;
      } else if (type === 3) {
        open.push(inner);
        pos = tag.next;
      } else pos = (await this.field(tag.value, tag.next, end)).end;
    }
    return pos;
  }
}

/** What the walk of a SavedModel found. */
interface GraphOps {
  /** Op → where it was first seen. */
  ops: Map<string, string>;
  functions: Set<string>;
  metaGraphs: number;
  graphs: number;
  badNames: string[];
}

/** Walks SavedModel → MetaGraphDef → GraphDef → NodeDef / FunctionDefLibrary → FunctionDef → NodeDef. */
class SavedModelWalker {
  readonly found: GraphOps = { ops: new Map(), functions: new Set(), metaGraphs: 0, graphs: 0, badNames: [] };

  constructor(private readonly wire: Wire) {}

  async savedModel(): Promise<void> {
    for await (const f of this.wire.fields(0, this.wire.source.size))
      if (f.number === 2 && f.wireType === 2) await this.metaGraph(f, this.found.metaGraphs++);
  }

  private async metaGraph(mg: Field, index: number): Promise<void> {
    for await (const f of this.wire.fields(mg.start, mg.end))
      if (f.number === 2 && f.wireType === 2) await this.graph(f, `meta graph ${index}`);
  }

  private async graph(g: Field, where: string): Promise<void> {
    this.found.graphs++;
    for await (const f of this.wire.fields(g.start, g.end)) {
      if (f.wireType !== 2) continue;
      if (f.number === 1) await this.node(f, `${where} graph`);
      else if (f.number === 2) await this.library(f);
    }
  }

  private async library(lib: Field): Promise<void> {
    for await (const f of this.wire.fields(lib.start, lib.end))
      if (f.number === 1 && f.wireType === 2) await this.function(f);
  }

  private async function(fn: Field): Promise<void> {
    let name = "";
    const bodies: Field[] = [];
    for await (const f of this.wire.fields(fn.start, fn.end)) {
      if (f.wireType !== 2) continue;
      if (f.number === 1) name = (await this.signatureName(f)) ?? name;
      else if (f.number === 3) bodies.push(f);
      if (bodies.length > MAX_MESSAGES) throw new WireError("too many nodes in a function", f.start);
    }
    if (name) this.found.functions.add(name);
    for (const body of bodies) await this.node(body, `function ${JSON.stringify(name)}`);
  }

  /** OpDef.name (field 1) of a FunctionDef's signature; the last occurrence wins, as in protobuf. */
  private async signatureName(sig: Field): Promise<string | undefined> {
    let name: string | undefined;
    for await (const f of this.wire.fields(sig.start, sig.end))
      if (f.number === 1 && f.wireType === 2) name = await this.name(f);
    return name;
  }

  /** NodeDef: every `op` field is read (protobuf keeps the last; an attacker may repeat it) and attrs skipped. */
  private async node(node: Field, where: string): Promise<void> {
    if (++this.wire.messages > MAX_MESSAGES) throw new WireError(`more than ${MAX_MESSAGES} messages`, node.start);
    let name = "";
    let op: string | undefined;
    for await (const f of this.wire.fields(node.start, node.end)) {
      if (f.wireType !== 2) continue;
      if (f.number === 1) name = (await this.name(f)) ?? name;
      else if (f.number === 2) op = await this.name(f);
    }
    if (op === undefined || op === "") return;
    if (!this.found.ops.has(op)) this.found.ops.set(op, `${where} node ${JSON.stringify(name.slice(0, 120))}`);
  }

  private async name(f: Field): Promise<string> {
    const text = await this.wire.text(f, MAX_NAME);
    if (text === undefined) {
      this.found.badNames.push(`a name of ${f.end - f.start} bytes at offset ${f.start}`);
      return "";
    }
    return text;
  }
}

/** Records each distinct op as an import of `tensorflow.raw_ops`. */
function recordOps(found: GraphOps, ctx: FormatContext): void {
  let count = 0;
  for (const [op, where] of found.ops) {
    if (found.functions.has(op)) continue; // a call of a library function, whose nodes were read
    if (++count > MAX_OPS) {
      ctx.indicate("scan.limit", `more than ${MAX_OPS} distinct ops; the rest were not judged`);
      return;
    }
    ctx.inventory.imports.push({
      module: "tensorflow.raw_ops",
      name: op,
      member: ctx.member,
      offsets: [],
      opcode: "tf-op",
      calls: [where],
    });
  }
}

/**
 * `saved_model.pb`: `SavedModel{int64 saved_model_schema_version = 1; repeated MetaGraphDef meta_graphs = 2}`.
 * TensorFlow loads it by name, so a file or member named saved_model.pb is read whatever its first bytes are and
 * every problem is reported. Under any other name only the layout TensorFlow writes (schema version, then meta
 * graphs) that parses cleanly into ops with op-like names is claimed, so other protobufs (ONNX) and random bytes
 * are left alone.
 */
export const savedModelFormat: FormatHandler = {
  name: "savedmodel",
  sniff: (probe: Probe) => isTagByte(probe.head[0]!),
  async inspect(source: ByteSource, ctx: FormatContext, probe: Probe): Promise<boolean> {
    const named = baseName(ctx.member || ctx.inventory.path) === "saved_model.pb";
    if (!named && !looksLikeSavedModel(probe.head)) return false;
    const walker = new SavedModelWalker(new Wire(source, ctx.deadline));
    let error: WireError | undefined;
    try {
      await walker.savedModel();
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      error = e;
    }
    const { found } = walker;
    for (const op of found.ops.keys())
      if (!OP_NAME.test(op)) found.badNames.push(`op ${JSON.stringify(op.slice(0, 120))}`);
    if (!named && (error || found.ops.size === 0 || found.badNames.length > 0)) return false;
    if (error)
      ctx.indicate(
        "savedmodel.invalid",
        `protobuf error at offset ${error.offset}: ${error.message}; ops found before it are listed`,
        error.offset,
      );
    else if (found.metaGraphs === 0) ctx.indicate("savedmodel.invalid", "saved_model.pb holds no meta graph");
    if (found.badNames.length)
      ctx.indicate("savedmodel.invalid", `unusual names: ${found.badNames.slice(0, 8).join(", ")}`);
    recordOps(found, ctx);
    return true;
  },
};

/** A first byte that can start a protobuf field (field 1-15, wire type varint, fixed64, length or fixed32). */
function isTagByte(b: number): boolean {
  return b >= 0x08 && b < 0x80 && [0, 1, 2, 5].includes(b & 7);
}

/** What TensorFlow writes first: schema version 1 (or 0, omitted), then a meta graph. */
function looksLikeSavedModel(head: Uint8Array): boolean {
  return (head[0] === 0x08 && head[1]! < 0x80 && head[2] === 0x12) || head[0] === 0x12;
}

/**
 * `keras_metadata.pb` (Keras 2 SavedModel): `SavedMetadata{repeated SavedObject nodes = 1}` with
 * `SavedObject{int32 node_id = 2; string node_path = 3; string identifier = 4; string metadata = 5}`; each
 * metadata is a layer's JSON (`class_name`, `config`), walked like an h5 model_config. Keras reads it by name only,
 * so only a file or member of that name is claimed.
 */
export const kerasMetadataFormat: FormatHandler = {
  name: "keras-metadata",
  sniff: (probe: Probe) => probe.head[0] === 0x0a,
  async inspect(source: ByteSource, ctx: FormatContext): Promise<boolean> {
    if (baseName(ctx.member || ctx.inventory.path) !== "keras_metadata.pb") return false;
    const wire = new Wire(source, ctx.deadline);
    try {
      for await (const f of wire.fields(0, source.size))
        if (f.number === 1 && f.wireType === 2) await readSavedObject(wire, f, ctx);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      ctx.indicate(
        "savedmodel.invalid",
        `keras_metadata.pb: protobuf error at offset ${e.offset}: ${e.message}`,
        e.offset,
      );
    }
    return true;
  },
};

async function readSavedObject(wire: Wire, object: Field, ctx: FormatContext): Promise<void> {
  let path = "";
  const metadata: Field[] = [];
  for await (const f of wire.fields(object.start, object.end)) {
    if (f.wireType !== 2) continue;
    if (f.number === 3) path = (await wire.text(f, MAX_NAME)) ?? path;
    else if (f.number === 5) metadata.splice(0, metadata.length, f); // the last one wins
  }
  const where = `keras_metadata.pb ${JSON.stringify(path || "?")}`;
  for (const f of metadata) {
    const text = await wire.text(f, MAX_METADATA_JSON);
    if (text === undefined) {
      ctx.indicate(
        "scan.limit",
        `${where}: metadata of ${f.end - f.start} bytes is larger than ${MAX_METADATA_JSON}; not inspected`,
      );
      continue;
    }
    if (text === "") continue;
    const parsed = parseJsonLenient(text);
    if ("error" in parsed) ctx.indicate("keras.invalid_config", `${where}: metadata is not JSON: ${parsed.error}`);
    else walkKerasConfig(parsed.value, ctx, { where, keras3: false });
  }
}
