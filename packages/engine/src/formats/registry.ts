import { pickleFormat } from "./pickle.js";
import { COMPRESSION_FORMATS } from "../containers/compressed.js";
import { zipFormat } from "../containers/zip.js";
import { tarFormat } from "../containers/tar.js";
import { sevenZipFormat } from "../containers/sevenzip.js";
import { npyFormat } from "./numpy.js";
import { safetensorsFormat } from "./safetensors.js";
import { ggufFormat } from "./gguf.js";
import { onnxFormat } from "./onnx.js";
import { chatTemplateJsonFormat, jinjaFileFormat } from "./jinja.js";
import { remoteCodeConfigFormat } from "./remote-code.js";
import { hdf5Format, kerasConfigFormat } from "./keras.js";
import { kerasMetadataFormat, savedModelFormat } from "./savedmodel.js";
import { yamlFormat } from "./yaml.js";
import { jsonTemplateFormat, textTemplateFormat } from "./template-content.js";
import type { FormatHandler } from "./types.js";

/** Every format the scanner knows, in the order they are tried. A file may match several (polyglots). */
export const FORMATS: readonly FormatHandler[] = [
  ...COMPRESSION_FORMATS,
  zipFormat,
  tarFormat,
  sevenZipFormat,
  npyFormat,
  safetensorsFormat,
  ggufFormat,
  onnxFormat,
  remoteCodeConfigFormat,
  chatTemplateJsonFormat,
  jinjaFileFormat,
  jsonTemplateFormat,
  textTemplateFormat,
  hdf5Format,
  kerasConfigFormat,
  savedModelFormat,
  kerasMetadataFormat,
  yamlFormat,
  pickleFormat,
];
