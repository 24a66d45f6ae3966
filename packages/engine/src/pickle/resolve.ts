import { constString, pathOf, type Value } from "./values.js";

/**
 * Resolves, as far as constants allow, what a call fetches or invokes by name, so that
 * `builtins.getattr(builtins.__import__('os'), 'system')` is reported as `os.system`.
 *
 * - `reference`: the call's result is the named object (getattr, __import__, import_module, resolve_name,
 *   attrgetter applied to an object). The call's value then stands for that path.
 * - `invocation`: the call runs the named callable (methodcaller('system', …)(os), partial(os.system)(…)).
 */
export interface Resolution {
  path: string;
  via: string;
  kind: "reference" | "invocation";
}

// The loader's spellings of one builtin or operator function all count (Python 2 names, private twins).
const canonicalModule: Record<string, string> = {
  __builtin__: "builtins",
  __builtins__: "builtins",
  _operator: "operator",
  _functools: "functools",
};

function canonical(path: string | undefined): string | undefined {
  if (!path) return undefined;
  const dot = path.lastIndexOf(".");
  if (dot < 0) return path;
  const module = path.slice(0, dot);
  return `${canonicalModule[module] ?? module}${path.slice(dot)}`;
}

const GETATTR = new Set(["builtins.getattr", "operator.getitem"]);
const IMPORTERS = new Set(["builtins.__import__", "importlib.import_module", "importlib.__import__"]);
const NAME_RESOLVERS = new Set(["pkgutil.resolve_name"]);
const ATTRGETTER = "operator.attrgetter";
const METHODCALLER = "operator.methodcaller";
const PARTIAL = "functools.partial";
const MODULE_TABLES = new Set(["sys.modules"]);

export function resolveCall(callee: Value, args: Value): Resolution | undefined {
  const argv = args.k === "tuple" ? args.items : [];
  const calleePath = canonical(pathOf(callee));

  if (calleePath && GETATTR.has(calleePath)) {
    const base = pathOf(argv[0]);
    const attr = constString(argv[1]);
    if (base && attr !== undefined) {
      // getitem(sys.modules, 'os') is the module itself; getattr(x, 'a.b') is not dotted lookup but keep it.
      const path = MODULE_TABLES.has(canonical(base) ?? "") ? attr : `${base}.${attr}`;
      return { path, via: calleePath, kind: "reference" };
    }
  }
  if (calleePath && IMPORTERS.has(calleePath)) {
    const module = constString(argv[0]);
    if (module) return { path: module, via: calleePath, kind: "reference" };
  }
  if (calleePath && NAME_RESOLVERS.has(calleePath)) {
    const name = constString(argv[0]);
    if (name) return { path: name.replace(":", "."), via: calleePath, kind: "reference" };
  }
  // Calling the result of another call: attrgetter('x')(obj), methodcaller('m', …)(obj), partial(f, …)(…).
  if (callee.k === "call" && callee.args.k === "tuple") {
    const maker = canonical(pathOf(callee.callee));
    const first = callee.args.items[0];
    if (maker === ATTRGETTER) {
      const base = pathOf(argv[0]);
      const attr = constString(first);
      if (base && attr) return { path: `${base}.${attr}`, via: maker, kind: "reference" };
    }
    if (maker === METHODCALLER) {
      const base = pathOf(argv[0]);
      const method = constString(first);
      if (base && method) return { path: `${base}.${method}`, via: maker, kind: "invocation" };
    }
    if (maker === PARTIAL) {
      const target = pathOf(first);
      if (target) return { path: target, via: maker, kind: "invocation" };
    }
  }
  return undefined;
}

/** `a.b.c` → module `a.b`, name `c`; a bare module path has an empty name. */
export function splitPath(path: string): { module: string; name: string } {
  const dot = path.lastIndexOf(".");
  return dot > 0 ? { module: path.slice(0, dot), name: path.slice(dot + 1) } : { module: path, name: "" };
}

const GETATTR_SPELLINGS = new Set(["builtins.getattr", "__builtin__.getattr", "__builtins__.getattr"]);
const INSTANCE_OPCODES = new Set(["NEWOBJ", "NEWOBJ_EX", "OBJ", "INST"]);
const DUNDER = /^__.*__$/;
/** (class, method) pairs kept per getattr. */
export const MAX_BOUND_PAIRS = 16;

/** functools.partial in any of the loader's spellings. */
export function isPartial(path: string): boolean {
  return canonical(path) === PARTIAL;
}

export function isGetattr(path: string): boolean {
  return GETATTR_SPELLINGS.has(path);
}

/**
 * The (class, method) a getattr call fetches, when its object is an instance the stream created from a class
 * (NEWOBJ/OBJ/INST, or copyreg._reconstructor(cls, object, …) under protocols 0–1) and the name is a whole
 * constant that is not a dunder. Anything else (a module, a global, a computed name) is not a bound-method fetch.
 */
export function boundMethodFetch(args: Value): { cls: string; method: string; onClass?: boolean } | undefined {
  if (args.k !== "tuple" || args.total !== 2) return undefined;
  const [instance, nameValue] = args.items;
  const method = constString(nameValue);
  if (!method || !/^[A-Za-z_]\w*$/.test(method)) return undefined;
  // getattr(<a global>, 'name'): protocols 2–3 spell a class's own function (`interp1d._call_linear_np`, the
  // `cls.__new__` of keyword construction) this way. Only listed pairs are accepted, so `__new__` may pass here.
  if (instance?.k === "global" && (!DUNDER.test(method) || method === "__new__"))
    return { cls: `${instance.module}.${instance.name}`, method, onClass: true };
  if (DUNDER.test(method) || instance?.k !== "call") return undefined;
  if (instance.resolved) return undefined;
  let cls: Value | undefined;
  if (INSTANCE_OPCODES.has(instance.opcode)) cls = instance.callee;
  else if (instance.opcode === "REDUCE" && pathOf(instance.callee)?.match(/^copy_?reg\._reconstructor$/)) {
    const items = instance.args.k === "tuple" ? instance.args.items : [];
    if (pathOf(items[1]) === "builtins.object" || pathOf(items[1]) === "__builtin__.object") cls = items[0];
  }
  if (cls?.k !== "global") return undefined;
  return { cls: `${cls.module}.${cls.name}`, method };
}
