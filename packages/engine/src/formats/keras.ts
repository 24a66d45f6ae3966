import type { ByteSource } from "../source/byte-source.js";
import type { FormatContext, FormatHandler, Probe } from "./types.js";
import { findSignature, readRootAttributes, type Hdf5Attribute, type RootAttributes } from "./hdf5.js";
import { describeMarshaledCode, renderCodeSummary } from "./marshal.js";

/**
 * Keras models: the HDF5 layout of Keras 2 (`model.save("x.h5")`: JSON in the root attribute `model_config`) and
 * the `config.json` of the Keras 3 `.keras` zip (the zip reader hands each member over by content). Both are a
 * tree of `{class_name, config, module?, registered_name?}` objects that the loader turns into Python objects:
 *
 * - a `Lambda` layer carries marshaled bytecode (`function: [base64, defaults, closure]` in Keras 2,
 *   `{class_name: "__lambda__", config: {code}}` in Keras 3) that the loader rebuilds and runs: Alert;
 * - every other object names a class or function the loader resolves. Those names go into the inventory as
 *   imports (`keras.layers.Dense`, `os.system`) so the rules pack judges them like pickle globals: built-ins are
 *   on the allow-list, an unknown custom class is Warning, `module: "os", class_name: "system"` is Alert;
 * - `TFOpLambda` layers name a TensorFlow API function (`tf.math.add`) that Keras looks up and calls.
 *
 * The whole tree is walked (nested models, wrappers, cells, initializers, training config), iteratively and
 * within budgets. Keras 2 objects carry no module; theirs is inferred from the key that holds them
 * (`kernel_initializer` → `keras.initializers`), and an unknown name stays unknown, i.e. Warning.
 */

/** Largest JSON document (config.json, metadata.json, one attribute) read into memory. */
const MAX_JSON_BYTES = 64 << 20;
/** Values visited in one config tree. */
const MAX_NODES = 2_000_000;
/** Nesting of one config tree (Keras models nest a few dozen levels at most). */
const MAX_DEPTH = 1_000;
/** Distinct names recorded from one config tree. */
const MAX_IMPORTS = 10_000;
/** Longest string that may hold a marshaled lambda (base64). */
const MAX_LAMBDA_CHARS = 8 << 20;

const NVD_LAMBDA = "CVE-2024-3660";
const MODEL_CLASSES = new Set(["Sequential", "Functional", "Model"]);
/** Keras 3 encodings of values, not of classes or functions: they import nothing. */
const KERAS3_DATA_CLASSES = new Set([
  "__tensor__",
  "__numpy__",
  "__bytes__",
  "__ellipsis__",
  "__slice__",
  "__typespec__",
  "__keras_tensor__",
  "__complex__",
]);

/** Where a config came from, for messages. */
export interface ConfigOrigin {
  /** `model_config`, `config.json`, `keras_metadata.pb node 3`. */
  where: string;
  /** Version that saved the model, when the file says. */
  kerasVersion?: string;
  /** True for the Keras 3 format (safe_mode exists); false for Keras 2 h5 / SavedModel metadata. */
  keras3: boolean;
}

interface Frame {
  value: unknown;
  /** The object key that holds this value (list items inherit their list's key). */
  key: string;
  /** Names of the enclosing layers, `model/block/dense`. */
  trail: string;
  depth: number;
}

type Json = Record<string, unknown>;

/** Walks one Keras config tree and records what it would load. */
export function walkKerasConfig(root: unknown, ctx: FormatContext, origin: ConfigOrigin): void {
  new ConfigWalker(ctx, origin).walk(root);
}

class ConfigWalker {
  private readonly recorded = new Set<string>();
  /** Encoded functions already reported from a Lambda's config, so the generic check does not repeat them. */
  private readonly reportedCode = new Set<string>();
  private nodes = 0;

  constructor(
    private readonly ctx: FormatContext,
    private readonly origin: ConfigOrigin,
  ) {}

  walk(root: unknown): void {
    const stack: Frame[] = [{ value: root, key: "", trail: "", depth: 0 }];
    while (stack.length > 0) {
      const frame = stack.pop()!;
      if (++this.nodes > MAX_NODES || frame.depth > MAX_DEPTH) {
        this.ctx.indicate(
          "scan.limit",
          `${this.origin.where}: config larger than ${MAX_NODES} values or deeper than ${MAX_DEPTH}; the rest was not inspected`,
        );
        return;
      }
      if ((this.nodes & 0xfff) === 0 && Date.now() > this.ctx.deadline) {
        this.ctx.indicate("scan.limit", `${this.origin.where}: time budget exhausted while walking the config`);
        return;
      }
      this.visit(frame, stack);
    }
  }

  private visit(frame: Frame, stack: Frame[]): void {
    const { value, key, depth } = frame;
    if (Array.isArray(value)) {
      this.checkMarshaledList(value, frame.trail, key);
      for (let i = value.length - 1; i >= 0; i--)
        stack.push({ value: value[i], key, trail: frame.trail, depth: depth + 1 });
      return;
    }
    if (!isObject(value)) return;
    let trail = frame.trail;
    if (typeof value.class_name === "string") trail = this.visitKerasObject(value, key, trail);
    // Keras refuses a layer without a class name; a damaged entry must not hide what it carried (a Lambda).
    else if (key === "layers") this.invalid(`a layer at ${quote(trail || "the top")} has no "class_name"`);
    const entries = Object.entries(value);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, v] = entries[i]!;
      if (v !== null && typeof v === "object") stack.push({ value: v, key: k, trail, depth: depth + 1 });
    }
  }

  /** Records what one `{class_name, …}` object would load; returns the layer trail for its children. */
  private visitKerasObject(obj: Json, key: string, trail: string): string {
    const className = obj.class_name as string;
    const config = obj.config;
    const name = isObject(config) && typeof config.name === "string" ? config.name : "";
    const here = name ? (trail ? `${trail}/${name}` : name) : trail;
    if (className === "__lambda__") this.reportLambda(isObject(config) ? config.code : undefined, here, "function");
    else if (KERAS3_DATA_CLASSES.has(className)) return here;
    else if (className === "Lambda") this.visitLambda(obj, here);
    else if (className === "TFOpLambda" || className === "SlicingOpLambda") this.visitTfOpLambda(obj, here);
    else if (className === "function") this.visitFunction(obj, here);
    else this.record(moduleOf(obj, key, className), className, here, obj);
    return here;
  }

  /** Keras 2 Lambda: `function` (and `output_shape`) is marshaled code unless its `*_type` says "function". */
  private visitLambda(obj: Json, here: string): void {
    // The Lambda class itself is not recorded: what it runs (code or a named function) is judged instead.
    const config = obj.config;
    if (!isObject(config)) {
      this.ctx.indicate(
        "keras.invalid_config",
        `${this.origin.where}: Lambda layer ${quote(here)} has no config object`,
      );
      return;
    }
    this.lambdaField(config, "function", "function_type", "module", here);
    this.lambdaField(config, "output_shape", "output_shape_type", "output_shape_module", here);
  }

  private lambdaField(config: Json, field: string, typeKey: string, moduleKey: string, here: string): void {
    const value = config[field];
    const type = config[typeKey];
    // A Lambda without a function is damaged (Keras refuses it); the code it held must not vanish silently.
    if ((value === undefined || value === null) && field === "function")
      return this.invalid(`Lambda layer ${quote(here)} has no readable function`);
    if (value === undefined || value === null || isObject(value)) return; // absent, or a Keras 3 dict: walked later
    if (type === "function") {
      const named = config[moduleKey];
      const module = typeof named === "string" ? named : "__main__";
      if (typeof value === "string") this.record(module, value, here, config);
      else this.invalid(`Lambda layer ${quote(here)} names its ${field} with a ${typeof value}`);
      return;
    }
    // "raw" output shapes are plain lists of numbers; anything else is rebuilt with marshal.loads.
    if (field === "output_shape" && type !== "lambda") return;
    this.reportLambda(Array.isArray(value) ? value[0] : value, here, field);
  }

  /** TFOpLambda calls `tf.<function>` (e.g. `math.add`, `__operators__.getitem`) looked up by name. */
  private visitTfOpLambda(obj: Json, here: string): void {
    const config = obj.config;
    const fn = isObject(config) ? config.function : undefined;
    if (typeof fn !== "string" || fn.length === 0) {
      this.invalid(`${obj.class_name as string} layer ${quote(here)} has no function name`);
      return;
    }
    this.record("tensorflow", fn, here, obj);
  }

  /** Keras 3 serialized function: `{module, class_name: "function", config: "relu"}` imports module.relu. */
  private visitFunction(obj: Json, here: string): void {
    if (typeof obj.config !== "string" || obj.config.length === 0) {
      this.invalid(`function object at ${quote(here)} has no function name`);
      return;
    }
    this.record(typeof obj.module === "string" ? obj.module : "builtins", obj.config, here, obj);
  }

  /** A list whose first item is base64 of a marshaled code object is a dumped function wherever it appears. */
  private checkMarshaledList(list: unknown[], here: string, key: string): void {
    const first = list[0];
    if (typeof first !== "string" || first.length < 16 || first.length > MAX_LAMBDA_CHARS) return;
    if (first[0] !== "4" && first[0] !== "Y") return; // base64 of 0xe3 / 0x63, the code type byte
    const bytes = decodeBase64(first);
    if (!bytes) return;
    if (this.reportedCode.has(first)) return; // a Lambda layer's function, reported with its layer
    const code = describeMarshaledCode(bytes);
    if (typeof code === "string") return;
    this.ctx.indicate(
      "keras.lambda",
      `${this.origin.where}: marshaled Python code under ${quote(key)} at ${quote(here)}: ${renderCodeSummary(code)}`,
    );
  }

  private reportLambda(encoded: unknown, here: string, field: string): void {
    const what = `${this.origin.where}: Lambda layer ${quote(here)} carries marshaled Python bytecode in ${quote(field)}`;
    const runs = this.runsWhen();
    if (typeof encoded === "string") this.reportedCode.add(encoded);
    if (typeof encoded !== "string") {
      this.ctx.indicate("keras.lambda", `${what} (not a base64 string, so unreadable here); ${runs}`);
      return;
    }
    const bytes = encoded.length <= MAX_LAMBDA_CHARS ? decodeBase64(encoded) : undefined;
    const code = bytes
      ? describeMarshaledCode(bytes)
      : `${encoded.length} characters that are not base64 of at most ${MAX_LAMBDA_CHARS} characters`;
    const detail =
      typeof code === "string"
        ? `${bytes?.length ?? 0} bytes, not readable as a code object: ${code}`
        : renderCodeSummary(code);
    this.ctx.indicate("keras.lambda", `${what}: ${detail}; ${runs}`);
  }

  private runsWhen(): string {
    const version = this.origin.kerasVersion ? `saved by Keras ${this.origin.kerasVersion}; ` : "";
    return this.origin.keras3
      ? `${version}Keras runs it when the model is loaded with safe_mode=False, and with any safe_mode before 2.13 (${NVD_LAMBDA})`
      : `${version}Keras 2 rebuilds and runs it when the model is loaded; Keras 3 does unless safe_mode is on`;
  }

  private record(module: string, name: string, here: string, obj: Json): void {
    const key = `${module}\0${name}`;
    if (this.recorded.has(key)) return;
    if (this.recorded.size >= MAX_IMPORTS) {
      if (this.recorded.size === MAX_IMPORTS)
        this.ctx.indicate(
          "scan.limit",
          `${this.origin.where}: more than ${MAX_IMPORTS} distinct classes; the rest were not judged`,
        );
      this.recorded.add(key);
      return;
    }
    this.recorded.add(key);
    const registered =
      typeof obj.registered_name === "string" && obj.registered_name !== name
        ? ` (registered as ${obj.registered_name})`
        : "";
    this.ctx.inventory.imports.push({
      module,
      name,
      member: this.ctx.member,
      offsets: [],
      opcode: "keras-config",
      calls: [`${this.origin.where}: ${here ? `${quote(here)} ` : ""}${module}.${name}${registered}`],
    });
  }

  private invalid(message: string): void {
    this.ctx.indicate("keras.invalid_config", `${this.origin.where}: ${message}`);
  }
}

/**
 * The module a config object is loaded from. Keras 3 writes it (`keras.layers`, or the user's module for custom
 * objects); Keras 2 resolves class names in the registry of the kind of object the key holds.
 */
function moduleOf(obj: Json, key: string, className: string): string {
  if (typeof obj.module === "string" && obj.module) return obj.module;
  if (MODEL_CLASSES.has(className)) return "keras.models";
  if (key.endsWith("initializer")) return "keras.initializers";
  if (key.endsWith("regularizer")) return "keras.regularizers";
  if (key.endsWith("constraint")) return "keras.constraints";
  if (key === "optimizer" || key === "optimizer_config" || key === "inner_optimizer") return "keras.optimizers";
  if (key === "learning_rate") return "keras.optimizers.schedules";
  if (key === "dtype" || key === "dtype_policy") return "keras.mixed_precision";
  if (key === "loss" || key === "losses") return "keras.losses";
  if (key === "metrics" || key === "weighted_metrics") return "keras.metrics";
  return "keras.layers";
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function quote(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}

/** Python's base64 decoder (binascii, non-strict) skips characters outside the alphabet; so does this. */
function decodeBase64(text: string): Uint8Array | undefined {
  const clean = text.replace(/[^A-Za-z0-9+/]/g, "");
  if (clean.length % 4 === 1) return undefined;
  return new Uint8Array(Buffer.from(clean, "base64"));
}

/**
 * JSON as Python's `json.loads` reads it: like JSON.parse, plus the NaN, Infinity and -Infinity that
 * `json.dumps` writes for floats (turned into null here, since only names matter).
 */
export function parseJsonLenient(text: string): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (e) {
    const first = (e as Error).message;
    const replaced = replaceNonFinite(text);
    if (replaced === text) return { error: first };
    try {
      return { value: JSON.parse(replaced) as unknown };
    } catch {
      return { error: first };
    }
  }
}

/** Replaces NaN/Infinity/-Infinity tokens outside strings with null (one linear pass). */
function replaceNonFinite(text: string): string {
  let out = "";
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else {
      const token = ["-Infinity", "Infinity", "NaN"].find((t) => text.startsWith(t, i));
      if (token) {
        out += `${text.slice(last, i)}null`;
        i += token.length - 1;
        last = i + 1;
      }
    }
  }
  return last === 0 ? text : out + text.slice(last);
}

// ---------------------------------------------------------------------------------------------------------------
// Keras 2 HDF5 (.h5)

/** JSON-valued root attributes Keras 2 reads on load. */
const JSON_ATTRIBUTES = ["model_config", "training_config"];

/**
 * HDF5 files. Every one is read as far as its root attributes; one with `model_config` is a Keras 2 model
 * (format `keras-h5`), the rest are HDF5 data (format `hdf5`, Pass).
 */
export const hdf5Format: FormatHandler = {
  name: "hdf5",
  sniff: (probe: Probe) => findSignature(probe.head) >= 0,
  async inspect(source: ByteSource, ctx: FormatContext, probe: Probe): Promise<boolean> {
    const result = await readRootAttributes(source, findSignature(probe.head), acceptPrefixReading);
    ctx.addFormat("hdf5");
    if (!result.ok) {
      ctx.indicate(result.overLimit ? "scan.limit" : "hdf5.unreadable", result.error);
      return true;
    }
    inspectRootAttributes(result.root, ctx);
    return true;
  },
};

/** A prefix reading is good enough when every JSON attribute Keras reads parses (a value cut short does not). */
function acceptPrefixReading(root: RootAttributes): boolean {
  return root.attributes.every(
    (a) =>
      !JSON_ATTRIBUTES.includes(a.name) ||
      (textOf(a.value) !== undefined && "value" in parseJsonLenient(textOf(a.value)!)),
  );
}

function inspectRootAttributes(root: RootAttributes, ctx: FormatContext): void {
  if (root.denseStorage)
    ctx.indicate(
      "hdf5.dense_attributes",
      "the root group keeps attributes in dense storage (a fractal heap), which this reader cannot list; a model_config there would not have been inspected",
    );
  for (const problem of root.unreadable)
    ctx.indicate("hdf5.unreadable", `root attribute could not be decoded: ${problem}`);
  const configs = root.attributes.filter((a) => a.name === "model_config");
  if (configs.length === 0) return;
  ctx.addFormat("keras-h5");
  if (configs.length > 1)
    ctx.indicate(
      "keras.invalid_config",
      `${configs.length} root attributes are named model_config; loaders may read different ones (all were inspected)`,
    );
  const origin: ConfigOrigin = { where: "model_config", keras3: false, ...kerasVersion(root.attributes) };
  for (const attribute of root.attributes)
    if (JSON_ATTRIBUTES.includes(attribute.name)) walkAttribute(attribute, ctx, { ...origin, where: attribute.name });
}

function kerasVersion(attributes: Hdf5Attribute[]): { kerasVersion?: string } {
  const version = textOf(attributes.find((a) => a.name === "keras_version")?.value);
  return version ? { kerasVersion: version.slice(0, 40) } : {};
}

function walkAttribute(attribute: Hdf5Attribute, ctx: FormatContext, origin: ConfigOrigin): void {
  const text = textOf(attribute.value);
  if (text === undefined) {
    ctx.indicate("keras.invalid_config", `${origin.where} is not a string attribute`);
    return;
  }
  const parsed = parseJsonLenient(text);
  if ("error" in parsed) {
    ctx.indicate("keras.invalid_config", `${origin.where} is not JSON: ${parsed.error}`);
    return;
  }
  if (attribute.name === "model_config" && !(isObject(parsed.value) && typeof parsed.value.class_name === "string"))
    ctx.indicate("keras.invalid_config", `model_config is not a {class_name, config} object`);
  walkKerasConfig(parsed.value, ctx, origin);
}

/** An attribute's text: a string, or a one-element array of one (h5py writes either). */
function textOf(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.length === 1 && typeof value[0] === "string") return value[0];
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Keras 3 (.keras zip): config.json and metadata.json

/** Versions read from metadata.json, for the messages of the config.json that follows it in the same file. */
const savedVersions = new WeakMap<object, string>();

/**
 * The JSON members of a `.keras` zip. config.json is recognised by its member name or by a Keras object at the
 * top; metadata.json by its name or its `keras_version`.
 */
export const kerasConfigFormat: FormatHandler = {
  name: "keras-v3",
  sniff: (probe: Probe) =>
    firstNonSpace(probe.head) === 0x7b || (probe.size > probe.head.length && firstNonSpace(probe.head) === -1),
  async inspect(source: ByteSource, ctx: FormatContext, probe: Probe): Promise<boolean> {
    const base = baseName(ctx.member || ctx.inventory.path);
    const head = new TextDecoder("utf-8").decode(probe.head);
    const named = base === "config.json" || base === "metadata.json";
    if (!named && !/"class_name"|"keras_version"/.test(head)) return false;
    if (source.size > MAX_JSON_BYTES) {
      if (named && ctx.member)
        ctx.indicate("scan.limit", `${base} is larger than ${MAX_JSON_BYTES} bytes; not inspected`);
      return false;
    }
    const parsed = parseJsonLenient(new TextDecoder("utf-8").decode(await source.read(0, source.size)));
    if ("error" in parsed) {
      // Inside an archive a config.json that Keras cannot parse still deserves a look by hand.
      if (base === "config.json" && ctx.member)
        ctx.indicate("keras.invalid_config", `config.json is not JSON: ${parsed.error}`);
      return false;
    }
    if (!isObject(parsed.value)) return false;
    if (typeof parsed.value.keras_version === "string" && typeof parsed.value.class_name !== "string") {
      savedVersions.set(ctx.inventory, parsed.value.keras_version.slice(0, 40));
      return true;
    }
    if (typeof parsed.value.class_name !== "string") return false;
    const version = savedVersions.get(ctx.inventory);
    walkKerasConfig(parsed.value, ctx, {
      where: base || "config",
      keras3: true,
      ...(version ? { kerasVersion: version } : {}),
    });
    return true;
  },
};

function firstNonSpace(bytes: Uint8Array): number {
  for (const b of bytes) if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) return b;
  return -1;
}

/** The last path component of a file path or a member path (`outer.zip!model.keras!config.json`). */
export function baseName(path: string): string {
  const parts = path.split(/[!/\\]/);
  return parts[parts.length - 1] ?? "";
}
