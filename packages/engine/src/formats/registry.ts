import { pickleFormat } from "./pickle.js";
import { COMPRESSION_FORMATS } from "../containers/compressed.js";
import { zipFormat } from "../containers/zip.js";
import { tarFormat } from "../containers/tar.js";
import { sevenZipFormat } from "../containers/sevenzip.js";
import { npyFormat } from "./numpy.js";
import type { FormatHandler } from "./types.js";

/** Every format the scanner knows, in the order they are tried. A file may match several (polyglots). */
export const FORMATS: readonly FormatHandler[] = [
  ...COMPRESSION_FORMATS,
  zipFormat,
  tarFormat,
  sevenZipFormat,
  npyFormat,
  pickleFormat,
];
