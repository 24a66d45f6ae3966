import { boundMethodFetch, isGetattr, MAX_BOUND_PAIRS, resolveCall, splitPath } from "./resolve.js";
import { MachineState } from "./state.js";
import { pathOf, render, type CallValue, type Value } from "./values.js";

/** Renderings of calls kept per import. */
const MAX_CALLS_KEPT = 3;

/**
 * Call resolution: every call the stream would make (REDUCE, BUILD, NEWOBJ, OBJ, INST…) is attached to the
 * import it calls, computed references (getattr, import_module, attrgetter…) become imports of their own, byte
 * payloads handed to pickle loaders are kept as nested streams, and bound-method fetches are counted for the
 * policy.
 */
export abstract class CallResolver extends MachineState {
  protected pushGlobal(module: string, name: string, opcode: string, offset: number): void {
    const importIndex = this.addImport(module, name, opcode, offset);
    this.push({ k: "global", module, name, importIndex });
  }

  /** Records a call: attaches its rendering to the callee's import, resolves computed references. */
  protected call(callee: Value, args: Value, opcode: string, offset: number, kwargs?: Value): CallValue {
    const resolution = resolveCall(callee, args);
    const value: CallValue = {
      k: "call",
      callee,
      args,
      opcode,
      offset,
      ...(kwargs ? { kwargs } : {}),
      ...(resolution?.kind === "reference" ? { resolved: resolution.path } : {}),
    };
    if (resolution) {
      // The call fetches or runs an attribute by name: an import in all but opcode.
      const { module, name } = splitPath(resolution.path);
      const index = this.addImport(module, name, opcode, offset, resolution.via);
      if (resolution.kind === "invocation") this.attachCall(index, value);
    }
    const calleeIndex = callee.k === "global" ? callee.importIndex : this.indexOfPath(pathOf(callee));
    if (calleeIndex !== undefined) this.attachCall(calleeIndex, value);
    else if (resolution?.kind !== "invocation")
      this.indicate("pickle.computed_call", `call of a computed value: ${render(value, 120)}`, offset);
    this.noteNested(callee, args);
    this.noteBoundMethod(callee, args, opcode);
    return value;
  }

  /** `getattr(<instance of a class>, '<constant non-dunder name>')` called by REDUCE: a bound method fetch. */
  protected noteBoundMethod(callee: Value, args: Value, opcode: string): void {
    if (opcode !== "REDUCE" || callee.k !== "global" || !isGetattr(`${callee.module}.${callee.name}`)) return;
    const found = boundMethodFetch(args);
    if (!found) return;
    const use = this.boundMethodUse(callee.importIndex);
    const known = use.pairs.some(
      (p) => p.cls === found.cls && p.method === found.method && p.onClass === found.onClass,
    );
    // A pair that cannot be kept is not counted, so the fetches fall short of the pushes and getattr stays Alert.
    if (!known && use.pairs.length >= MAX_BOUND_PAIRS) return;
    if (!known) use.pairs.push(found);
    use.fetches++;
  }

  protected attachCall(index: number, value: CallValue): void {
    const calls = this.scan.imports[index]!.calls;
    if (calls.length < MAX_CALLS_KEPT) calls.push(render(value));
  }

  protected indexOfPath(path: string | undefined): number | undefined {
    if (!path) return undefined;
    const { module, name } = splitPath(path);
    return this.importIndex.get(`${module}\0${name}`);
  }

  protected noteNested(callee: Value, args: Value): void {
    const path = pathOf(callee);
    if (!path || !this.nestedLoaders.has(path) || args.k !== "tuple") return;
    const payload = args.items[0];
    if (payload?.k === "bytes")
      this.scan.nested.push({
        loader: path,
        at: payload.at,
        length: payload.length,
        head: payload.head,
        ...(callee.k === "global" && args.total === 1 ? { importIndex: callee.importIndex } : {}),
      });
  }

  /** A value that is a module-level object: mutating it changes the loader's process for everyone. */
  protected checkMutation(target: Value, opcode: string, offset: number): void {
    if (target.k === "global")
      this.indicate(
        "pickle.global_mutation",
        `${opcode} modifies the module-level object ${target.module}.${target.name}`,
        offset,
      );
  }
}
