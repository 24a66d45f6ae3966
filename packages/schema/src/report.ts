import { Type, type Static } from "typebox";

/**
 * The engine's JSON report (snake_case), as `modelvet scan --format json` prints it and the API returns it under
 * `result`. The objects stay open (`additionalProperties: true`): a server serialising a report from a newer
 * engine passes its extra fields through instead of dropping them.
 */
const open = { additionalProperties: true } as const;

/** 1 Pass, 2 Warning, 3 Alert. */
export const Severity = Type.Unsafe<1 | 2 | 3>({
  type: "integer",
  enum: [1, 2, 3],
  description: "1 Pass, 2 Warning, 3 Alert",
});
export type Severity = Static<typeof Severity>;
export const SeverityLabel = Type.Union([Type.Literal("Pass"), Type.Literal("Warning"), Type.Literal("Alert")]);
export type SeverityLabel = Static<typeof SeverityLabel>;

/** Where a finding sits: a container member and a byte offset. */
export const Location = Type.Object(
  { member: Type.Optional(Type.String()), offset: Type.Optional(Type.Integer()) },
  open,
);
export type Location = Static<typeof Location>;

export const UnsafeDependency = Type.Object(
  {
    module: Type.String(),
    name: Type.String(),
    severity: Severity,
    rule: Type.String({ description: "id of the deciding rule, or `unlisted` when none matched" }),
    reason: Type.String(),
    references: Type.Array(Type.String()),
    locations: Type.Array(Location),
    call: Type.Optional(
      Type.String({ description: "what would run, rendered from constants: posix.system('echo hi')" }),
    ),
    normalized: Type.Optional(
      Type.String({ description: "canonical spelling when the file uses another (__builtin__.eval → builtins.eval)" }),
    ),
    via: Type.Optional(Type.String({ description: "how a computed reference was reached (builtins.getattr)" })),
  },
  open,
);
export type UnsafeDependency = Static<typeof UnsafeDependency>;

/** A finding that is not an import: a truncated stream, a Lambda layer, a template injection… */
export const IndicatorFinding = Type.Object(
  {
    id: Type.String(),
    severity: Severity,
    message: Type.String(),
    reason: Type.String(),
    references: Type.Array(Type.String()),
    locations: Type.Array(Location),
  },
  open,
);
export type IndicatorFinding = Static<typeof IndicatorFinding>;

export const FileSecurityReport = Type.Object(
  {
    path: Type.String(),
    sha256: Type.Optional(Type.String()),
    size: Type.Number(),
    formats: Type.Array(Type.String()),
    severity: Severity,
    unsafe_dependencies: Type.Array(UnsafeDependency),
    indicators: Type.Array(IndicatorFinding),
    errors: Type.Array(Type.String()),
  },
  open,
);
export type FileSecurityReport = Static<typeof FileSecurityReport>;

/** The Hub's pickle-import scan of a file (innocuous / suspicious / dangerous) and whether it agrees with ours. */
export const HubVerdict = Type.Object(
  {
    level: Type.Optional(
      Type.Union([Type.Literal("innocuous"), Type.Literal("suspicious"), Type.Literal("dangerous")]),
    ),
    severity: Type.Optional(Severity),
    safe: Type.Optional(Type.Boolean()),
    agrees: Type.Boolean(),
  },
  open,
);
export type HubVerdict = Static<typeof HubVerdict>;

export const ScannedFile = Type.Object(
  {
    path: Type.String(),
    severity: Severity,
    formats: Type.Array(Type.String()),
    bytes_read: Type.Number(),
    size: Type.Number(),
    cached: Type.Optional(Type.Boolean({ description: "the inventory came from the cache: nothing was read" })),
    hub_verdict: Type.Optional(HubVerdict),
    sha256: Type.Optional(Type.String({ description: "SHA-256 of the content, when known" })),
    url: Type.Optional(Type.String({ description: "Hub files: the file's web page at the scanned commit" })),
  },
  open,
);
export type ScannedFile = Static<typeof ScannedFile>;

/** A file that could not be read at all (permissions, I/O error, vanished during the scan). */
export const UnreadableFile = Type.Object(
  {
    path: Type.String(),
    error: Type.String({ description: "the operating system's error code (EACCES, EIO, ENOENT) or message" }),
  },
  open,
);
export type UnreadableFile = Static<typeof UnreadableFile>;

/** A path a folder walk left out. */
export const SkippedPathEntry = Type.Object(
  {
    path: Type.String(),
    reason: Type.Union([
      Type.Literal("excluded"),
      Type.Literal("vcs"),
      Type.Literal("symlink-outside-root"),
      Type.Literal("not-regular"),
    ]),
  },
  open,
);
export type SkippedPathEntry = Static<typeof SkippedPathEntry>;

/** A Hub repository scanned, with the commit every read was made at. */
export const ScanTarget = Type.Object(
  {
    input: Type.String(),
    repo: Type.String(),
    repo_type: Type.Union([Type.Literal("model"), Type.Literal("dataset"), Type.Literal("space")]),
    revision: Type.String(),
    commit: Type.String(),
    endpoint: Type.String(),
    files: Type.Integer(),
  },
  open,
);
export type ScanTarget = Static<typeof ScanTarget>;

export const ScanStats = Type.Object(
  {
    files: Type.Integer(),
    bytes_total: Type.Number(),
    bytes_read: Type.Number({ description: "bytes the scanners read (remote files: transferred); hashing apart" }),
    bytes_hashed: Type.Optional(Type.Number({ description: "bytes read to hash local files for the cache" })),
    duration_ms: Type.Number(),
    cached_files: Type.Optional(Type.Integer({ description: "files whose inventory came from the cache" })),
    threads: Type.Optional(
      Type.Integer({ description: "threads that scanned, when worker threads took part (--jobs); absent: one" }),
    ),
  },
  open,
);
export type ScanStats = Static<typeof ScanStats>;

export const ScanReport = Type.Object(
  {
    severity: Severity,
    severity_label: SeverityLabel,
    rules_version: Type.String(),
    file_security_reports: Type.Array(FileSecurityReport, {
      description: "only files with something to report; empty when nothing was found",
    }),
    scanned_files: Type.Array(ScannedFile),
    stats: ScanStats,
    targets: Type.Optional(
      Type.Array(ScanTarget, { description: "Hub repositories scanned, each pinned to a commit" }),
    ),
    unreadable_files: Type.Optional(
      Type.Array(UnreadableFile, { description: "the CLI exits 2 for these unless --allow-unreadable" }),
    ),
    skipped_paths: Type.Optional(Type.Array(SkippedPathEntry, { description: "paths folder walks left out" })),
  },
  { ...open, description: "the engine's JSON result (README)" },
);
export type ScanReport = Static<typeof ScanReport>;
