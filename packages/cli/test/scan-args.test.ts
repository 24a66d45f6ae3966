import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { commanderOption } from "../src/program.js";
import { parseScanQuickly, SCAN_OPTIONS } from "../src/scan-options.js";

/** What commander makes of the words after `scan`: the targets and the options object, or the error it raises. */
function commanderReads(words: string[]): { targets: string[]; options: Record<string, unknown> } | "error" {
  let read: { targets: string[]; options: Record<string, unknown> } | undefined;
  const scan = new Command("scan")
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} })
    .argument("<targets...>")
    .action((targets: string[], options: Record<string, unknown>) => {
      read = { targets, options: { ...options } };
    });
  for (const spec of SCAN_OPTIONS) scan.addOption(commanderOption(spec));
  try {
    scan.parse(words, { from: "user" });
  } catch {
    return "error";
  }
  return read ?? "error";
}

const LINES: string[][] = [
  ["model.pkl"],
  ["a.pkl", "b.pt", "--format", "json", "--no-cache"],
  ["--format=sarif", "dir", "--no-progress", "-q"],
  ["-f", "json", "-o", "out.json", "x", "--fail-on", "warning"],
  ["x", "--rules", "r1.json", "--rules=r2.json", "--exclude", "*.bin", "--exclude", "tmp/**"],
  ["x", "--concurrency", "8", "--timeout=30", "--max-decompressed", "1000", "--max-member-decompressed", "99"],
  ["hf://org/repo", "--revision", "main", "--token", "t", "--cache-dir", "/tmp/c", "--include-vcs"],
  ["x", "--allow-unreadable", "--sarif-category", "ci", "--format", "text", "--format", "json"],
  ["x", "--concurrency", "2", "--concurrency", "3"],
  ["x", "--output="],
];

/** Lines the quick parser must leave to commander (help, errors, spellings it does not read). */
const LEFT_TO_COMMANDER: string[][] = [
  [],
  ["--help"],
  ["x", "-h"],
  ["x", "--format", "xml"],
  ["x", "--concurrency", "0"],
  ["x", "--timeout", "1.5"],
  ["x", "--bogus"],
  ["x", "--format"],
  ["x", "-qf", "json"],
  ["x", "-fjson"],
  ["--", "x"],
  ["x", "--version"],
  ["x", "--quiet=1"],
  ["x", "-o", "-"],
  ["x", "--progress"],
  ["help"],
];

describe("the quick scan argument parser", () => {
  it("reads ordinary scan lines exactly as commander does", () => {
    for (const words of LINES) {
      const quick = parseScanQuickly(words);
      expect(quick, words.join(" ")).toBeDefined();
      expect(quick, words.join(" ")).toEqual(commanderReads(words));
    }
  });

  it("leaves help, errors and unusual spellings to commander", () => {
    for (const words of LEFT_TO_COMMANDER) expect(parseScanQuickly(words), words.join(" ")).toBeUndefined();
    // Where commander accepts one of them, it is only a spelling the quick parser does not read.
    expect(commanderReads(["x", "-qf", "json"])).not.toBe("error");
  });
});
