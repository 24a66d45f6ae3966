import type { FormatContext } from "./types.js";

/**
 * What a file's name promises. A loader picks its reader by the name (`safetensors.load_file("x.safetensors")`,
 * `torch.load("x.pt")`, `joblib.load("x.joblib")`), so a file whose name claims a format that none of our readers
 * could confirm is not vouched for: Warning with the reason, and every other reader has still had its turn (the
 * registry loop runs them all unless a format parsed fully and validly).
 */
interface Claim {
  /** Format names (registry handlers) any one of which satisfies the claim. Empty: no reader for it exists. */
  formats: readonly string[];
  /** The format as a person names it. */
  label: string;
}

const PICKLE_LIKE = ["pickle", "zip", "tar", "gzip", "zlib", "bz2", "xz", "lzma", "lz4"];
const TORCH = { formats: ["zip", "pickle", "tar"], label: "PyTorch (zip or pickle)" };

/**
 * `.bin` is left out on purpose: besides pytorch_model.bin it names raw tensor bytes that no loader unpickles
 * (ONNX external data, OpenVINO IR weights, GGML dumps), and every reader already runs on it by content.
 */
const CLAIMS: Record<string, Claim> = {
  safetensors: { formats: ["safetensors"], label: "safetensors" },
  gguf: { formats: ["gguf"], label: "GGUF" },
  onnx: { formats: ["onnx"], label: "ONNX" },
  h5: { formats: ["hdf5"], label: "HDF5" },
  hdf5: { formats: ["hdf5"], label: "HDF5" },
  keras: { formats: ["zip", "keras-v3", "hdf5"], label: "Keras (zip or HDF5)" },
  npy: { formats: ["npy"], label: "NumPy .npy" },
  npz: { formats: ["zip"], label: "NumPy .npz (zip)" },
  pt: TORCH,
  pth: TORCH,
  ckpt: TORCH,
  pkl: { formats: PICKLE_LIKE, label: "pickle" },
  pickle: { formats: PICKLE_LIKE, label: "pickle" },
  dill: { formats: PICKLE_LIKE, label: "pickle" },
  joblib: { formats: PICKLE_LIKE, label: "joblib" },
  sav: { formats: PICKLE_LIKE, label: "pickle" },
  pb: { formats: ["savedmodel", "keras-metadata"], label: "TensorFlow protobuf" },
  // Formats no reader of this scanner parses yet: a file so named is read by content only.
  tflite: { formats: [], label: "TensorFlow Lite" },
  msgpack: { formats: [], label: "Flax msgpack" },
  model: { formats: PICKLE_LIKE, label: "model (pickle, joblib or SentencePiece)" },
  ggml: { formats: [], label: "GGML" },
  mlmodel: { formats: [], label: "Core ML" },
};

/** Why a claimed format did not confirm a file: its magic was absent, or it parsed and gave up. */
const MISSING_MAGIC: Record<string, string> = {
  safetensors: "no u64 header length followed by a JSON object",
  gguf: "no GGUF magic",
  onnx: "not an ONNX ModelProto",
  hdf5: "no HDF5 signature",
  npy: "no \\x93NUMPY magic",
  zip: "no zip end record",
  pickle: "not a pickle stream",
  savedmodel: "not a SavedModel protobuf",
};

/** The extension a loader goes by: the last one of the member's or file's base name, lower case. */
export function extensionOf(name: string): string {
  const base = name.slice(Math.max(name.lastIndexOf("/"), name.lastIndexOf("!"), name.lastIndexOf("\\")) + 1);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : "";
}

/**
 * After every reader has run: a name that claims a format none of them confirmed is a Warning with the reason
 * (`format.invalid`), or, for a model format no reader here parses, `format.unrecognised` when nothing read the
 * file at all. `rejected` holds the formats whose sniffer accepted the file and whose reader then refused it.
 */
export function checkNameClaim(
  name: string,
  ctx: FormatContext,
  recognised: readonly string[],
  rejected: ReadonlySet<string>,
): void {
  const extension = extensionOf(name);
  const claim = CLAIMS[extension];
  if (!claim || claim.formats.some((f) => recognised.includes(f))) return;
  if (claim.formats.length === 0) {
    if (recognised.length === 0)
      ctx.indicate("format.unrecognised", `unrecognised model file: .${extension} (${claim.label}), read by no reader`);
    return;
  }
  const reasons = claim.formats
    .filter((f) => MISSING_MAGIC[f] !== undefined || rejected.has(f))
    .map((f) => `${f}: ${rejected.has(f) ? "does not parse" : MISSING_MAGIC[f]}`);
  const readAs = recognised.length > 0 ? `; read as ${recognised.join(", ")} instead` : "";
  ctx.indicate("format.invalid", `.${extension} file is not valid ${claim.label} (${reasons.join("; ")})${readAs}`);
}
