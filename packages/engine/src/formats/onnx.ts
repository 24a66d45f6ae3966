import type { ByteSource } from "../source/byte-source.js";
import type { FormatContext, FormatHandler, Probe } from "./types.js";
import { ProtoError, ProtoWalker, Wire, type FieldHeader } from "./protobuf.js";
import { sourceName } from "./remote-code.js";

/**
 * ONNX (`ModelProto`, field numbers from onnx.proto IR 8 and later). An ONNX graph is data interpreted by a
 * runtime, but two things in it reach outside: nodes in a custom operator domain, which the runtime can only run
 * through a separately registered implementation (a native library, onnxruntime-extensions' Python `PyOp`), and
 * tensors whose bytes live in `external_data` files, whose `location` a loader joins to the model's folder (a
 * location that leaves the folder reads arbitrary files: CVE-2022-25882 in onnx itself).
 *
 * The protobuf is walked field by field (see protobuf.ts): the walker descends into graphs, nodes, attributes,
 * functions, training graphs and tensor metadata, and seeks past `raw_data` and every numeric payload, so a
 * multi-GB model costs its metadata bytes. Note that `opset_import` (8) follows `graph` (7) on disk, so verdicts
 * are made after the whole walk.
 */

/** Subgraph nesting (If/Loop/Scan bodies inside bodies); real models nest a few levels. */
const MAX_GRAPH_DEPTH = 32;
/** Nodes, tensors and attributes visited before the walk gives up (with a Warning). */
const MAX_ITEMS = 10_000_000;
/** External-data locations listed individually; more are summarised. */
const MAX_LOCATIONS_LISTED = 20;
const DEADLINE_EVERY = 4096;

/**
 * Domains whose operators ship inside the runtime. `""`/`ai.onnx*` are the ONNX standard. `com.microsoft` (and
 * its internal layout domains) are onnxruntime's contrib ops, compiled into every onnxruntime build and emitted by
 * the standard exporters and optimizers (Attention, FusedMatMul, SkipLayerNormalization): flagging them would make
 * every optimised transformer a Warning while they load no code. The exception is onnxruntime-training's
 * `PythonOp`/`PythonOpGrad`, which call back into Python functions by name.
 */
const STANDARD_DOMAINS = new Set([
  "",
  "ai.onnx",
  "ai.onnx.ml",
  "ai.onnx.training",
  "ai.onnx.preview.training",
  "com.microsoft",
  "com.microsoft.nchwc",
  "com.microsoft.experimental",
  "com.ms.internal.nhwc",
]);
const PYTHON_CALLBACK_OPS = new Set(["com.microsoft\0PythonOp", "com.microsoft\0PythonOpGrad"]);

/** ModelProto fields a writer emits; used by the sniffer to tell a model from random bytes starting 0x08. */
const MODEL_FIELD_TAGS = new Set([0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72]);

export const onnxFormat: FormatHandler = {
  name: "onnx",
  exclusive: true,
  sniff: (probe: Probe) => sniffOnnx(probe.head),
  async inspect(source: ByteSource, ctx: FormatContext): Promise<boolean> {
    const model = new OnnxModel();
    const walker = new OnnxWalker(new ProtoWalker(source), model, ctx.deadline);
    let failure: ProtoError | undefined;
    try {
      await walker.model(source.size);
    } catch (e) {
      if (!(e instanceof ProtoError)) throw e;
      failure = e;
    }
    // Random bytes that start like a protobuf rarely survive to a graph; a `.onnx` name is taken as a claim.
    const named = /\.onnx$/i.test(sourceName(ctx));
    if (!model.sawGraph && !named) return false;
    if (failure) ctx.indicate("onnx.malformed", `${failure.message} (at byte ${failure.offset})`, failure.offset);
    else if (!model.sawGraph) ctx.indicate("onnx.malformed", "ModelProto has no graph");
    report(model, ctx);
    return true;
  },
};

/** Field 1 (ir_version, varint 1..127) first, then another ModelProto field: what every ONNX writer emits. */
export function sniffOnnx(head: Uint8Array): boolean {
  if (head.length < 4 || head[0] !== 0x08) return false;
  const ir = head[1]!;
  if (ir < 1 || ir > 0x7f) return false;
  const next = head[2]!;
  return MODEL_FIELD_TAGS.has(next) || (next === 0xa2 && head[3] === 0x01) || (next === 0xca && head[3] === 0x01);
}

interface OpUse {
  domain: string;
  opType: string;
  count: number;
  node: string;
}

/** What the walk collected; judged after it, since opset_import and functions may follow the graph. */
class OnnxModel {
  sawGraph = false;
  items = 0;
  readonly ops = new Map<string, OpUse>();
  readonly functions = new Set<string>();
  readonly opsets = new Map<string, number>();
  readonly external: Array<{ tensor: string; location: string | undefined }> = [];

  useOp(domain: string, opType: string, node: string): void {
    const key = `${domain}\0${opType}`;
    const use = this.ops.get(key);
    if (use) use.count++;
    else this.ops.set(key, { domain, opType, count: 1, node });
  }
}

/** Schema-driven descent: each method reads one message type up to `end`, skipping fields it does not need. */
class OnnxWalker {
  constructor(
    private readonly w: ProtoWalker,
    private readonly m: OnnxModel,
    private readonly deadline: number,
  ) {}

  async model(end: number): Promise<void> {
    for (let f; (f = await this.w.next(end));) {
      if (f.field === 7 && f.wire === Wire.Len) await this.graph(await this.w.lengthDelimited(end), 0);
      else if (f.field === 8 && f.wire === Wire.Len) await this.opset(await this.w.lengthDelimited(end), this.m.opsets);
      else if (f.field === 25 && f.wire === Wire.Len) await this.function(await this.w.lengthDelimited(end), 0);
      else if (f.field === 20 && f.wire === Wire.Len) await this.trainingInfo(await this.w.lengthDelimited(end), 0);
      else await this.w.skipValue(f, end);
    }
  }

  /** GraphProto: node 1, initializer 5, sparse_initializer 15. */
  private async graph(end: number, depth: number): Promise<void> {
    if (depth === 0) this.m.sawGraph = true;
    if (depth > MAX_GRAPH_DEPTH) throw new ProtoError(`subgraphs nested deeper than ${MAX_GRAPH_DEPTH}`, this.w.offset);
    for (let f; (f = await this.w.next(end));) {
      if (!this.isLen(f)) await this.w.skipValue(f, end);
      else if (f.field === 1) await this.node(await this.w.lengthDelimited(end), depth);
      else if (f.field === 5) await this.tensor(await this.w.lengthDelimited(end));
      else if (f.field === 15) await this.sparseTensor(await this.w.lengthDelimited(end));
      else await this.w.skipValue(f, end);
    }
  }

  /** NodeProto: name 3, op_type 4, attribute 5, domain 7. */
  private async node(end: number, depth: number): Promise<void> {
    this.tick();
    let opType = "";
    let domain = "";
    let name = "";
    for (let f; (f = await this.w.next(end));) {
      if (!this.isLen(f)) await this.w.skipValue(f, end);
      else if (f.field === 4) opType = await this.w.string(end);
      else if (f.field === 7) domain = await this.w.string(end);
      else if (f.field === 3) name = await this.w.string(end);
      else if (f.field === 5) await this.attribute(await this.w.lengthDelimited(end), depth);
      else await this.w.skipValue(f, end);
    }
    this.m.useOp(domain, opType, name);
  }

  /** AttributeProto: t 5, g 6, tensors 10, graphs 11, sparse_tensor 22, sparse_tensors 23. */
  private async attribute(end: number, depth: number): Promise<void> {
    this.tick();
    for (let f; (f = await this.w.next(end));) {
      if (!this.isLen(f)) await this.w.skipValue(f, end);
      else if (f.field === 6 || f.field === 11) await this.graph(await this.w.lengthDelimited(end), depth + 1);
      else if (f.field === 5 || f.field === 10) await this.tensor(await this.w.lengthDelimited(end));
      else if (f.field === 22 || f.field === 23) await this.sparseTensor(await this.w.lengthDelimited(end));
      else await this.w.skipValue(f, end);
    }
  }

  /** TensorProto: name 8, raw_data 9 (skipped by seeking), external_data 13, data_location 14. */
  private async tensor(end: number): Promise<void> {
    this.tick();
    let name = "";
    let location: string | undefined;
    let external = false;
    for (let f; (f = await this.w.next(end));) {
      if (f.field === 8 && f.wire === Wire.Len) name = await this.w.string(end);
      else if (f.field === 13 && f.wire === Wire.Len) {
        external = true;
        const entry = await this.entry(await this.w.lengthDelimited(end));
        if (entry.key === "location") location = entry.value;
      } else if (f.field === 14 && f.wire === Wire.Varint) {
        // Read the varint unconditionally: skipping it would desynchronise the walk.
        const dataLocation = await this.w.varint(end);
        external ||= dataLocation === 1;
      } else await this.w.skipValue(f, end);
    }
    if (external) this.m.external.push({ tensor: name, location });
  }

  /** SparseTensorProto: values 1, indices 2 (both TensorProto, either may be external). */
  private async sparseTensor(end: number): Promise<void> {
    for (let f; (f = await this.w.next(end));) {
      if ((f.field === 1 || f.field === 2) && f.wire === Wire.Len) await this.tensor(await this.w.lengthDelimited(end));
      else await this.w.skipValue(f, end);
    }
  }

  /** StringStringEntryProto: key 1, value 2. */
  private async entry(end: number): Promise<{ key: string; value: string }> {
    let key = "";
    let value = "";
    for (let f; (f = await this.w.next(end));) {
      if (f.field === 1 && f.wire === Wire.Len) key = await this.w.string(end);
      else if (f.field === 2 && f.wire === Wire.Len) value = await this.w.string(end);
      else await this.w.skipValue(f, end);
    }
    return { key, value };
  }

  /** OperatorSetIdProto: domain 1, version 2. */
  private async opset(end: number, into: Map<string, number>): Promise<void> {
    let domain = "";
    let version = 0;
    for (let f; (f = await this.w.next(end));) {
      if (f.field === 1 && f.wire === Wire.Len) domain = await this.w.string(end);
      else if (f.field === 2 && f.wire === Wire.Varint) version = await this.w.varint(end);
      else await this.w.skipValue(f, end);
    }
    into.set(domain, version);
  }

  /** FunctionProto: name 1, node 7, opset_import 9, domain 10. Its nodes are walked like graph nodes. */
  private async function(end: number, depth: number): Promise<void> {
    let name = "";
    let domain = "";
    for (let f; (f = await this.w.next(end));) {
      if (!this.isLen(f)) await this.w.skipValue(f, end);
      else if (f.field === 1) name = await this.w.string(end);
      else if (f.field === 10) domain = await this.w.string(end);
      else if (f.field === 7) await this.node(await this.w.lengthDelimited(end), depth + 1);
      else await this.w.skipValue(f, end);
    }
    this.m.functions.add(`${domain}\0${name}`);
  }

  /** TrainingInfoProto: initialization 1, algorithm 2 (both GraphProto). */
  private async trainingInfo(end: number, depth: number): Promise<void> {
    for (let f; (f = await this.w.next(end));) {
      if ((f.field === 1 || f.field === 2) && f.wire === Wire.Len)
        await this.graph(await this.w.lengthDelimited(end), depth + 1);
      else await this.w.skipValue(f, end);
    }
  }

  private isLen(f: FieldHeader): boolean {
    return f.wire === Wire.Len;
  }

  private tick(): void {
    if (++this.m.items > MAX_ITEMS)
      throw new ProtoError(`more than ${MAX_ITEMS} nodes, attributes and tensors`, this.w.offset);
    if (this.m.items % DEADLINE_EVERY === 0 && Date.now() > this.deadline)
      throw new ProtoError("time budget exhausted while walking the graph", this.w.offset);
  }
}

function report(model: OnnxModel, ctx: FormatContext): void {
  reportCustomOps(model, ctx);
  reportExternalData(model, ctx);
}

/** Nodes whose operator is neither standard nor a function defined in the model itself. */
function reportCustomOps(model: OnnxModel, ctx: FormatContext): void {
  for (const [key, use] of model.ops) {
    const custom = !STANDARD_DOMAINS.has(use.domain) || PYTHON_CALLBACK_OPS.has(key);
    if (!custom || model.functions.has(key)) continue;
    const version = model.opsets.get(use.domain);
    ctx.indicate(
      "onnx.custom_op",
      `operator ${use.opType || "(no op_type)"} of custom domain ${JSON.stringify(use.domain)}` +
        `${version !== undefined ? ` (opset ${version})` : ""} used by ${use.count} node(s)` +
        `${use.node ? `, e.g. ${JSON.stringify(use.node)}` : ""}; it runs only with a separately registered implementation`,
    );
  }
}

function reportExternalData(model: OnnxModel, ctx: FormatContext): void {
  const inside = new Set<string>();
  for (const { tensor, location } of model.external) {
    if (location === undefined || location === "")
      ctx.indicate("onnx.external_data_invalid", `tensor ${JSON.stringify(tensor)} is external but has no location`);
    else if (leavesModelFolder(location))
      ctx.indicate(
        "onnx.external_data_outside",
        `tensor ${JSON.stringify(tensor)} reads its data from ${JSON.stringify(location)}, outside the model's folder`,
      );
    else inside.add(location);
  }
  const listed = [...inside].slice(0, MAX_LOCATIONS_LISTED);
  for (const location of listed)
    ctx.indicate("onnx.external_data", `tensor data stored in the external file ${JSON.stringify(location)}`);
  if (inside.size > listed.length)
    ctx.indicate("onnx.external_data", `and ${inside.size - listed.length} more external data files`);
}

/**
 * onnx joins `location` to the model's directory: absolute paths, `..` segments, Windows drive letters and UNC
 * paths, `~`, URLs and NUL bytes all reach outside it (or behave differently across platforms).
 */
export function leavesModelFolder(location: string): boolean {
  if (/^[\\/]/.test(location) || /^[A-Za-z]:/.test(location) || location.startsWith("~")) return true;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(location) || location.includes("\0")) return true;
  return location.split(/[\\/]+/).some((segment) => segment === "..");
}
