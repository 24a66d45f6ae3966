import { Type, type Static, type TSchema } from "typebox";
import { ScanReport, Severity, SeverityLabel } from "./report.js";

/**
 * The HTTP API's JSON schemas (docs/API.md). The server validates requests with them (unknown fields rejected)
 * and serialises responses through them, so a field not declared here never reaches a client; the SDKs' types
 * are these schemas' static types.
 */

const closed = { additionalProperties: false } as const;

export const Uuid = Type.String({ format: "uuid", description: "an id (UUID)" });
const Name = Type.String({ minLength: 1, maxLength: 200 });
const Timestamp = Type.String({ description: "ISO 8601" });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const ErrorBody = Type.Object(
  { error: Type.String(), message: Type.String({ description: "a sentence a person can act on" }) },
  closed,
);

// --- Workspaces and keys ---

export const Workspace = Type.Object({ workspace_id: Uuid, name: Type.String(), created_at: Timestamp }, closed);

export const SeverityCounts = Type.Object(
  { pass: Type.Integer(), warning: Type.Integer(), alert: Type.Integer(), unscanned: Type.Integer() },
  closed,
);

export const Sensitivity = Type.Union([Type.Literal("SECRET"), Type.Literal("PUBLIC")]);

export const Integration = Type.Object(
  {
    integration_id: Uuid,
    workspace_id: Uuid,
    name: Type.String(),
    integration_type: Type.String(),
    created_at: Timestamp,
    fields: Type.Array(
      Type.Object(
        {
          name: Type.String(),
          sensitivity: Sensitivity,
          value: Type.Optional(Type.String({ description: "PUBLIC fields only" })),
        },
        closed,
      ),
    ),
  },
  closed,
);

export const WorkspaceSummary = Type.Object(
  {
    workspace_id: Uuid,
    name: Type.String(),
    created_at: Timestamp,
    projects: Type.Array(
      Type.Object(
        {
          project_id: Uuid,
          name: Type.String(),
          description: Type.String(),
          models: Type.Integer(),
          models_by_severity: SeverityCounts,
        },
        closed,
      ),
    ),
    integrations: Type.Array(Integration),
  },
  closed,
);

export const CreateWorkspaceBody = Type.Object({ name: Name }, closed);
export const CreateApiKeyBody = Type.Object({ name: Name }, closed);
export const CreatedApiKey = Type.Object(
  { key_id: Uuid, name: Type.String(), api_key: Type.String({ description: "shown only in this answer" }) },
  closed,
);

export const CreateIntegrationBody = Type.Object(
  {
    name: Name,
    integration_type: Type.Literal("CUSTOM"),
    integration_schema: Type.Array(
      Type.Object(
        {
          name: Type.String({ minLength: 1, maxLength: 100, pattern: "^[A-Za-z0-9_.-]+$" }),
          sensitivity: Sensitivity,
          value: Type.String({ maxLength: 8192 }),
        },
        closed,
      ),
      { maxItems: 50 },
    ),
  },
  closed,
);

// --- Projects and models ---

export const Project = Type.Object(
  {
    project_id: Uuid,
    workspace_id: Uuid,
    name: Type.String(),
    description: Type.String(),
    created_at: Timestamp,
    models_by_severity: Type.Optional(SeverityCounts),
  },
  closed,
);

export const CreateProjectBody = Type.Object(
  { name: Name, description: Type.Optional(Type.String({ maxLength: 2000 })), workspace_id: Uuid },
  closed,
);

const ModelUri = Type.String({
  pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$",
  maxLength: 200,
  description: "a Hugging Face model repo id: org/repo",
});
const Revision = Type.String({
  pattern: "^[A-Za-z0-9_.][A-Za-z0-9_./-]*$",
  maxLength: 200,
  description: "branch, tag or commit sha",
});

export const RegisterModelBody = Type.Object(
  {
    name: Name,
    model_config: Type.Object(
      {
        hugging_face: Type.Object(
          {
            model_uri: ModelUri,
            revision: Type.Optional(Revision),
            follow: Type.Optional(
              Type.Boolean({
                description: "scan new commits of the branch or tag; default true unless the revision is a commit",
              }),
            ),
          },
          closed,
        ),
      },
      closed,
    ),
    integration_id: Type.Optional(Uuid),
  },
  closed,
);

// --- File scans ---

/** One start of a scan: a scan whose worker died shows two or more. */
export const ScanAttempt = Type.Object(
  {
    attempt: Type.Integer({ minimum: 1 }),
    started_at: Timestamp,
    ended_at: Nullable(Timestamp),
    outcome: Type.Union(
      [
        Type.Literal("running"),
        Type.Literal("succeeded"),
        Type.Literal("failed"),
        Type.Literal("interrupted"),
        Type.Literal("crashed"),
      ],
      { description: "interrupted: its worker died or stopped; crashed: its scan process died" },
    ),
    reason: Nullable(Type.String()),
    worker: Type.Optional(Type.String({ description: "host:pid:id of the worker process; admin keys only" })),
  },
  closed,
);

export const FileScan = Type.Object(
  {
    file_scan_id: Uuid,
    job_id: Uuid,
    model_id: Uuid,
    project_id: Uuid,
    workspace_id: Uuid,
    status: Type.Union([
      Type.Literal("queued"),
      Type.Literal("running"),
      Type.Literal("succeeded"),
      Type.Literal("failed"),
    ]),
    progress: Type.Object(
      { files_done: Type.Integer(), files_total: Type.Integer(), bytes_read: Type.Number() },
      closed,
    ),
    error: Nullable(Type.String()),
    ram_request_megabytes: Nullable(Type.Integer()),
    created_at: Timestamp,
    started_at: Nullable(Timestamp),
    finished_at: Nullable(Timestamp),
    severity: Nullable(Severity),
    severity_label: Nullable(SeverityLabel),
    rules_version: Nullable(Type.String()),
    rules_outdated: Type.Boolean(),
    commit: Nullable(Type.String()),
    revision: Nullable(Type.String({ description: "the commit the scan was asked for; null: the model's revision" })),
    reason: Nullable(Type.String({ description: "why it ran: null when started by a call, else e.g. new commit" })),
    result: Type.Optional(ScanReport),
    attempts: Type.Optional(Type.Array(ScanAttempt, { description: "GET /file-scans/{id} only, oldest first" })),
  },
  closed,
);

/** One commit of a model's revision history with the verdict of its newest scan. */
export const RevisionEntry = Type.Object(
  {
    commit: Type.String(),
    file_scan_id: Uuid,
    scanned_at: Timestamp,
    status: Type.String(),
    severity: Nullable(Severity),
    severity_label: Nullable(SeverityLabel),
    reason: Nullable(Type.String()),
    scans: Type.Integer({ description: "scans of this commit (re-scans and re-judgings)" }),
  },
  closed,
);

export const Model = Type.Object(
  {
    model_id: Uuid,
    project_id: Uuid,
    workspace_id: Uuid,
    name: Type.String(),
    created_at: Timestamp,
    integration_id: Nullable(Uuid),
    model_config: Type.Object(
      {
        hugging_face: Type.Object(
          {
            model_uri: Type.String(),
            revision: Type.String(),
            // This server always sends it; servers from before revision following leave it out.
            follow: Type.Optional(Type.Boolean()),
          },
          closed,
        ),
      },
      closed,
    ),
    latest_file_scan: Nullable(FileScan),
    revisions: Type.Optional(
      Type.Array(RevisionEntry, { description: "GET /models/{id} only: the commits scanned, newest first" }),
    ),
  },
  closed,
);

export const StartScanBody = Type.Object(
  {
    model_id: Uuid,
    project_id: Uuid,
    ram_request_megabytes: Type.Optional(
      Type.Integer({ minimum: 128, maximum: 65536, description: "heap limit of the scan's worker (MB)" }),
    ),
  },
  closed,
);

export const VerboseQuery = Type.Object(
  {
    verbose: Type.Optional(
      Type.Union([Type.Literal("true"), Type.Literal("false"), Type.Literal("1"), Type.Literal("0")]),
    ),
  },
  closed,
);

export const params = {
  workspace: Type.Object({ workspace_id: Uuid }, closed),
  project: Type.Object({ project_id: Uuid }, closed),
  model: Type.Object({ model_id: Uuid }, closed),
  fileScan: Type.Object({ file_scan_id: Uuid }, closed),
};

// --- Edits, keys, rules and reports ---

export const UpdateWorkspaceBody = Type.Object({ name: Name }, closed);
export const UpdateProjectBody = Type.Object(
  { name: Type.Optional(Name), description: Type.Optional(Type.String({ maxLength: 2000 })) },
  { ...closed, minProperties: 1 },
);
export const UpdateModelBody = Type.Object(
  {
    name: Type.Optional(Name),
    revision: Type.Optional(Revision),
    integration_id: Type.Optional(Nullable(Uuid)),
    follow: Type.Optional(Type.Boolean({ description: "scan new commits of the revision (polling, Hub webhooks)" })),
  },
  { ...closed, minProperties: 1 },
);
export const UpdateIntegrationBody = Type.Object(
  {
    name: Type.Optional(Name),
    integration_schema: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100, pattern: "^[A-Za-z0-9_.-]+$" }),
            sensitivity: Sensitivity,
            value: Type.Optional(
              Type.String({
                maxLength: 8192,
                description: "leave out to keep the stored value (a SECRET stays unread)",
              }),
            ),
          },
          closed,
        ),
        { maxItems: 50 },
      ),
    ),
  },
  { ...closed, minProperties: 1 },
);
export const DeleteModelQuery = Type.Object(
  {
    keep_history: Type.Optional(
      Type.Union([Type.Literal("true"), Type.Literal("false")], {
        description: "true keeps the model's file scans readable by id; the default (false) deletes them",
      }),
    ),
  },
  closed,
);

export const ApiKey = Type.Object(
  {
    key_id: Uuid,
    name: Type.String(),
    prefix: Nullable(Type.String({ description: "the key's first characters, to tell keys apart" })),
    created_at: Timestamp,
  },
  closed,
);
export const apiKeyParams = Type.Object({ workspace_id: Uuid, key_id: Uuid }, closed);
export const integrationParams = Type.Object({ integration_id: Uuid }, closed);

export const RuleEntry = Type.Object(
  {
    id: Type.String(),
    kind: Type.Union([Type.Literal("import"), Type.Literal("indicator")]),
    match: Type.Optional(Type.String({ description: "import rules: the dotted path pattern" })),
    match_meaning: Type.Optional(Type.String({ description: "import rules: what the pattern matches, in words" })),
    severity: Severity,
    severity_label: Type.String(),
    reason: Type.String(),
    references: Type.Array(Type.String(), { description: "advisories, CVEs and format documentation" }),
  },
  closed,
);
export const RuleDetail = Type.Object(
  {
    ...RuleEntry.properties,
    explanation: Type.String({
      description: "the rule's page as Markdown, as `modelvet rules explain <id>` prints it",
    }),
  },
  closed,
);
export const RuleList = Type.Object(
  {
    version: Type.String(),
    rules: Type.Integer({ description: "how many import rules" }),
    indicators: Type.Integer({ description: "how many indicator rules" }),
    entries: Type.Array(RuleEntry),
  },
  closed,
);
export const ruleParams = Type.Object({ rule_id: Type.String({ minLength: 1, maxLength: 200 }) }, closed);
export const ReportQuery = Type.Object(
  { format: Type.Optional(Type.Union([Type.Literal("json"), Type.Literal("sarif"), Type.Literal("cyclonedx")])) },
  closed,
);

// --- Continuous scanning, workspace rules, server settings ---

/** A workspace's continuous-scanning settings (the webhook secret itself is never returned). */
export const FollowSettings = Type.Object(
  {
    workspace_id: Type.String(),
    poll_interval_seconds: Type.Integer({ description: "how often each followed model is polled (jittered ±10 %)" }),
    poll_interval_is_default: Type.Boolean(),
    hook_secret_set: Type.Boolean({ description: "whether the Hub webhook is accepted (the secret is never shown)" }),
    hook_path: Type.String({ description: "where to point the Hub webhook" }),
  },
  closed,
);

export const FollowSettingsBody = Type.Object(
  {
    poll_interval_seconds: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 604_800 }), Type.Null()], {
        description: "null: the server's default (MODELVET_FOLLOW_INTERVAL_SECONDS)",
      }),
    ),
    hook_secret: Type.Optional(
      Type.Union([Type.String({ minLength: 16, maxLength: 256 }), Type.Null()], {
        description: "the secret the Hub webhook sends as X-Webhook-Secret; null refuses webhooks",
      }),
    ),
  },
  { ...closed, minProperties: 1 },
);

/** One version of a workspace's custom rules (a `modelvet scan --rules FILE` document). */
export const WorkspaceRules = Type.Object(
  {
    workspace_id: Type.String(),
    version: Type.Integer({ description: "0: never set" }),
    rules: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()], {
      description: "a rules file as for `modelvet scan --rules FILE` (rules-file.schema.json); null: none",
    }),
    created_at: Type.Union([Type.String(), Type.Null()]),
    created_by: Type.Union([Type.String({ description: "id of the API key that made the change" }), Type.Null()]),
    rules_version: Type.String({ description: "what reports of this workspace name: pack version + these rules" }),
  },
  closed,
);

/** A stored version of a workspace's rules, as the version history lists it. */
export const WorkspaceRulesVersion = Type.Omit(WorkspaceRules, ["rules_version"]);

/** A change of a workspace's rules, with what re-judging the latest results did. */
export const WorkspaceRulesChange = Type.Object(
  {
    ...WorkspaceRules.properties,
    rejudged: Type.Integer({ description: "latest results judged again (nothing read from the Hub)" }),
    changed_models: Type.Array(Type.String(), { description: "models whose severity changed (new result recorded)" }),
  },
  closed,
);

/** What a client (the web UI) needs to know of the server. */
export const ServerSettings = Type.Object(
  {
    hub_endpoint: Type.Union([Type.String(), Type.Null()], {
      description: "the Hugging Face endpoint models are read from (HF_ENDPOINT), for links to files",
    }),
    rules_version: Type.String(),
  },
  closed,
);

/**
 * The shapes the OpenAPI document names (components.schemas): a title on each, which app.ts turns into a `$ref`.
 * Validation and serialisation ignore titles.
 */
const NAMED: Record<string, TSchema> = {
  Error: ErrorBody,
  Workspace,
  WorkspaceSummary,
  Integration,
  CreatedApiKey,
  ApiKey,
  Project,
  Model,
  FileScan,
  RuleEntry,
  RuleDetail,
  RuleList,
  CreateWorkspaceBody,
  CreateApiKeyBody,
  CreateIntegrationBody,
  CreateProjectBody,
  RegisterModelBody,
  StartScanBody,
  UpdateWorkspaceBody,
  UpdateProjectBody,
  UpdateModelBody,
  UpdateIntegrationBody,
};
for (const [title, schema] of Object.entries(NAMED)) Object.assign(schema, { title });

// The static types of the shapes above: what a client receives and the server sends.
export type ErrorBody = Static<typeof ErrorBody>;
export type Workspace = Static<typeof Workspace>;
export type SeverityCounts = Static<typeof SeverityCounts>;
export type Sensitivity = Static<typeof Sensitivity>;
export type Integration = Static<typeof Integration>;
export type IntegrationField = Integration["fields"][number];
export type WorkspaceSummary = Static<typeof WorkspaceSummary>;
export type CreatedApiKey = Static<typeof CreatedApiKey>;
export type ApiKey = Static<typeof ApiKey>;
export type Project = Static<typeof Project>;
export type FileScan = Static<typeof FileScan>;
export type ScanStatus = FileScan["status"];
export type ScanAttempt = Static<typeof ScanAttempt>;
export type RevisionEntry = Static<typeof RevisionEntry>;
export type Model = Static<typeof Model>;
export type RuleEntry = Static<typeof RuleEntry>;
export type RuleDetail = Static<typeof RuleDetail>;
export type RuleList = Static<typeof RuleList>;
export type ReportFormat = NonNullable<Static<typeof ReportQuery>["format"]>;
export type FollowSettings = Static<typeof FollowSettings>;
export type WorkspaceRules = Static<typeof WorkspaceRules>;
export type WorkspaceRulesVersion = Static<typeof WorkspaceRulesVersion>;
export type WorkspaceRulesChange = Static<typeof WorkspaceRulesChange>;
export type ServerSettings = Static<typeof ServerSettings>;
export type CreateWorkspaceBody = Static<typeof CreateWorkspaceBody>;
export type CreateIntegrationBody = Static<typeof CreateIntegrationBody>;
export type CreateProjectBody = Static<typeof CreateProjectBody>;
export type RegisterModelBody = Static<typeof RegisterModelBody>;
export type StartScanBody = Static<typeof StartScanBody>;
export type UpdateProjectBody = Static<typeof UpdateProjectBody>;
export type UpdateModelBody = Static<typeof UpdateModelBody>;
export type UpdateIntegrationBody = Static<typeof UpdateIntegrationBody>;
export type FollowSettingsBody = Static<typeof FollowSettingsBody>;
