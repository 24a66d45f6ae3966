/**
 * Every opcode CPython's pickletools knows (protocols 0–5), by byte. `proto` is the protocol that introduced it.
 * The argument layout drives the reader; the names match pickletools so reports and tests can be compared.
 */
export type ArgKind =
  | "none"
  | "u1"
  | "u2"
  | "i4"
  | "u4"
  | "u8"
  | "line" // one '\n'-terminated text argument
  | "line2" // two lines: module and name
  | "bytes1" // 1-byte length, then that many bytes
  | "bytes4" // 4-byte length (signed for BINSTRING/LONG4), then bytes
  | "bytes8"; // 8-byte length, then bytes

export interface OpcodeInfo {
  readonly code: number;
  readonly name: string;
  readonly arg: ArgKind;
  readonly proto: number;
}

const table: Array<[string, string, ArgKind, number]> = [
  ["I", "INT", "line", 0],
  ["J", "BININT", "i4", 1],
  ["K", "BININT1", "u1", 1],
  ["M", "BININT2", "u2", 1],
  ["L", "LONG", "line", 0],
  ["\x8a", "LONG1", "bytes1", 2],
  ["\x8b", "LONG4", "bytes4", 2],
  ["S", "STRING", "line", 0],
  ["T", "BINSTRING", "bytes4", 1],
  ["U", "SHORT_BINSTRING", "bytes1", 1],
  ["B", "BINBYTES", "bytes4", 3],
  ["C", "SHORT_BINBYTES", "bytes1", 3],
  ["\x8e", "BINBYTES8", "bytes8", 4],
  ["\x96", "BYTEARRAY8", "bytes8", 5],
  ["\x97", "NEXT_BUFFER", "none", 5],
  ["\x98", "READONLY_BUFFER", "none", 5],
  ["N", "NONE", "none", 0],
  ["\x88", "NEWTRUE", "none", 2],
  ["\x89", "NEWFALSE", "none", 2],
  ["V", "UNICODE", "line", 0],
  ["\x8c", "SHORT_BINUNICODE", "bytes1", 4],
  ["X", "BINUNICODE", "bytes4", 1],
  ["\x8d", "BINUNICODE8", "bytes8", 4],
  ["F", "FLOAT", "line", 0],
  ["G", "BINFLOAT", "none", 1], // 8 raw bytes, read by the machine
  ["]", "EMPTY_LIST", "none", 1],
  ["a", "APPEND", "none", 0],
  ["e", "APPENDS", "none", 1],
  ["l", "LIST", "none", 0],
  [")", "EMPTY_TUPLE", "none", 1],
  ["t", "TUPLE", "none", 0],
  ["\x85", "TUPLE1", "none", 2],
  ["\x86", "TUPLE2", "none", 2],
  ["\x87", "TUPLE3", "none", 2],
  ["}", "EMPTY_DICT", "none", 1],
  ["d", "DICT", "none", 0],
  ["s", "SETITEM", "none", 0],
  ["u", "SETITEMS", "none", 1],
  ["\x8f", "EMPTY_SET", "none", 4],
  ["\x90", "ADDITEMS", "none", 4],
  ["\x91", "FROZENSET", "none", 4],
  ["0", "POP", "none", 0],
  ["2", "DUP", "none", 0],
  ["(", "MARK", "none", 0],
  ["1", "POP_MARK", "none", 1],
  ["g", "GET", "line", 0],
  ["h", "BINGET", "u1", 1],
  ["j", "LONG_BINGET", "u4", 1],
  ["p", "PUT", "line", 0],
  ["q", "BINPUT", "u1", 1],
  ["r", "LONG_BINPUT", "u4", 1],
  ["\x94", "MEMOIZE", "none", 4],
  ["\x82", "EXT1", "u1", 2],
  ["\x83", "EXT2", "u2", 2],
  ["\x84", "EXT4", "i4", 2],
  ["c", "GLOBAL", "line2", 0],
  ["\x93", "STACK_GLOBAL", "none", 4],
  ["R", "REDUCE", "none", 0],
  ["b", "BUILD", "none", 0],
  ["i", "INST", "line2", 0],
  ["o", "OBJ", "none", 1],
  ["\x81", "NEWOBJ", "none", 2],
  ["\x92", "NEWOBJ_EX", "none", 4],
  ["\x80", "PROTO", "u1", 2],
  [".", "STOP", "none", 0],
  ["\x95", "FRAME", "u8", 4],
  ["P", "PERSID", "line", 0],
  ["Q", "BINPERSID", "none", 1],
];

/** Opcode info by byte value; undefined for bytes that are not opcodes. */
export const OPCODES: ReadonlyArray<OpcodeInfo | undefined> = (() => {
  const byCode: Array<OpcodeInfo | undefined> = new Array<OpcodeInfo | undefined>(256).fill(undefined);
  for (const [ch, name, arg, proto] of table) byCode[ch.charCodeAt(0)] = { code: ch.charCodeAt(0), name, arg, proto };
  return byCode;
})();

export const OPCODE_COUNT = table.length;

/** The highest protocol this reader understands (PROTO above it is reported). */
export const HIGHEST_PROTOCOL = 5;
