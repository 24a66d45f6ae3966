/**
 * When a name-bound reader reads a file at all. The registry's probe and the reader's own `inspect` call the same
 * predicate, so a reader widened here is never skipped by a probe left narrower. This module imports only a byte
 * helper: the registry loads it eagerly, the readers (and their parsers) stay lazy.
 */
import { bytesAt } from "../source/bytes.js";

const BOM = [0xef, 0xbb, 0xbf];
const YAML_DIRECTIVE = [0x25, 0x59, 0x41, 0x4d, 0x4c, 0x20]; // "%YAML "
const TAG_DIRECTIVE = [0x25, 0x54, 0x41, 0x47, 0x20]; // "%TAG "
const afterBom = (head: Uint8Array): number => (bytesAt(head, 0, BOM) ? 3 : 0);

/** A .yaml/.yml name, or a %YAML / %TAG directive at the start (after a UTF-8 BOM): how PyYAML users name them. */
export function readsAsYaml(head: Uint8Array, name: string): boolean {
  if (/\.ya?ml$/i.test(name)) return true;
  const start = afterBom(head);
  return bytesAt(head, start, YAML_DIRECTIVE) || bytesAt(head, start, TAG_DIRECTIVE);
}

/** A bare template file (`chat_template.jinja`): recognised by its name alone. */
export function readsAsJinjaFile(name: string): boolean {
  return /\.(jinja2?|j2)$/i.test(name);
}

/** Text files a template could hide in: template suffixes, `.txt`, and names without an extension. */
const TEXT_NAME = /(\.(template|tmpl|tpl|txt|jinja|jinja2|j2)|(^|[/\\!])[^./\\!]+)$/i;

/**
 * A template hidden in a text file: a text-like name not already the bare-template reader's, and no NUL in the
 * first bytes (the reader then decodes the whole file as strict UTF-8 and refuses any NUL).
 */
export function readsAsTextTemplate(head: Uint8Array, name: string): boolean {
  return TEXT_NAME.test(name) && !readsAsJinjaFile(name) && !head.includes(0);
}
