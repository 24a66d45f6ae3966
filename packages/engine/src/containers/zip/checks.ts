import { isUnsafePath } from "../anomalies.js";
import { FLAG_ENCRYPTED, ORDINARY_FLAGS, S_IFLNK, S_IFMT, type ZipEntry } from "./records.js";

/** The anomaly checks over a listed archive: they read no bytes, only the entries' fields. */

type Report = (entry: ZipEntry, id: string, message: string, offset?: number) => void;

/** Duplicate names, names that leave the extraction folder, symbolic links, encryption and odd flag bits. */
export function checkNames(entries: readonly ZipEntry[], report: Report): void {
  const seen = new Map<string, number>();
  for (const entry of entries) {
    const count = (seen.get(entry.name) ?? 0) + 1;
    seen.set(entry.name, count);
    if (count === 2)
      report(
        entry,
        "zip.duplicate_name",
        `more than one entry named ${JSON.stringify(entry.name)} (torch.load reads the first, Python's zipfile the last; all were scanned)`,
      );
    if (isUnsafePath(entry.name))
      report(entry, "zip.path_traversal", `entry name ${JSON.stringify(entry.name)} leaves the extraction folder`);
    if (((entry.externalAttr >>> 16) & S_IFMT) === S_IFLNK)
      report(entry, "zip.symlink", `entry ${JSON.stringify(entry.name)} is a symbolic link`);
    if (!entry.hidden && entry.flags & FLAG_ENCRYPTED)
      report(
        entry,
        "zip.encrypted",
        "entry is marked encrypted in the central directory (torch.load refuses it, zipfile asks for a password); its bytes were scanned as they are",
      );
    else if (entry.flags & ~ORDINARY_FLAGS)
      report(
        entry,
        "zip.unusual_flags",
        `general-purpose flags 0x${entry.flags.toString(16)} (torch.load ignores them; zipfile may refuse)`,
      );
  }
}

/** Entries whose bytes overlap (the overlapping-file zip bomb, or one payload listed under two names). */
export function checkOverlaps(entries: readonly ZipEntry[], report: Report): void {
  const spans = entries
    .filter((e) => e.dataStart !== undefined)
    .sort((a, b) => a.localOffset - b.localOffset || a.recordOffset - b.recordOffset);
  let reach = -1;
  let owner: ZipEntry | undefined;
  for (const entry of spans) {
    const stop = entry.dataStart! + entry.compressedSize;
    if (owner && entry.localOffset < reach)
      report(
        entry,
        "zip.overlapping_entries",
        `entry's bytes overlap those of ${JSON.stringify(owner.name)}`,
        entry.localOffset,
      );
    if (stop > reach) {
      reach = stop;
      owner = entry;
    }
  }
}
