import { pickleFormat } from "./pickle.js";
import { zipFormat } from "../containers/zip.js";
import { tarFormat } from "../containers/tar.js";
import type { FormatHandler } from "./types.js";

/** Every format the scanner knows, in the order they are tried. A file may match several (polyglots). */
export const FORMATS: readonly FormatHandler[] = [zipFormat, tarFormat, pickleFormat];
