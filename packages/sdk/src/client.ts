import { seg, Transport } from "./http.js";
import { FileScanJob, type FileScanReader } from "./job.js";
import { checkModelConfig, checkRam, integrationSchema, integrationType, liftReport } from "./normalise.js";
import { ProjectHandle, type ModelRegistrar } from "./project.js";
import type {
  ApiKey,
  ApiKeyInfo,
  CreateWebhookBody,
  FileScan,
  FileScanResult,
  FollowSettings,
  FollowSettingsBody,
  Integration,
  IntegrationVariable,
  Model,
  ModelConfig,
  Project,
  ReportFormat,
  RuleDetail,
  RulesInfo,
  ServerSettings,
  UpdateModelBody,
  UpdateProjectBody,
  Workspace,
  WorkspaceRules,
  WorkspaceRulesChange,
  WorkspaceRulesVersion,
  Webhook,
  WebhookDelivery,
  WorkspaceSummary,
} from "./types.js";

export interface ClientOptions {
  /** The server's address, e.g. "http://localhost:8080" (a trailing slash or "/api/v1" is fine). */
  domain: string;
  apiKey: string;
  /** Time limit of each HTTP request (default 30 000 ms). Waiting for a scan has its own: getStatus({ timeoutSec }). */
  timeoutMs?: number;
  /** A fetch to use instead of the global one (tests, proxies). */
  fetch?: typeof fetch;
}

/**
 * Client of a modelvet server: one method per call of the HTTP API (docs/API.md), named as the Python SDK's in
 * camelCase. Every failed call rejects with ModelvetError carrying the HTTP `status` and the server's `reason`.
 */
export class Client implements FileScanReader, ModelRegistrar {
  readonly domain: string;
  readonly #http: Transport;

  constructor(options: ClientOptions) {
    this.#http = new Transport(options.domain, options.apiKey, options.timeoutMs ?? 30_000, options.fetch ?? fetch);
    this.domain = this.#http.base;
  }

  /** Creates a workspace (admin key only). */
  async createWorkspace(name: string): Promise<Workspace> {
    return await this.#http.request("POST", "/workspaces", { name });
  }

  async listWorkspaces(): Promise<Workspace[]> {
    return (await this.#http.request<{ workspaces: Workspace[] }>("GET", "/workspaces")).workspaces;
  }

  /** The workspace summary: its projects (with model counts by severity) and integrations. */
  async getWorkspace(workspaceId: string): Promise<WorkspaceSummary> {
    return await this.#http.request("GET", `/workspaces/${seg(workspaceId, "workspaceId")}`);
  }

  /** A key that sees only this workspace; `api_key` is shown only in this answer. */
  async createApiKey(workspaceId: string, name: string): Promise<ApiKey> {
    return await this.#http.request("POST", `/workspaces/${seg(workspaceId, "workspaceId")}/api-keys`, { name });
  }

  /**
   * Stores named values (e.g. `HUGGINGFACE_API_TOKEN` with sensitivity `SECRET`); returns the integration id.
   * SECRET values are encrypted by the server and never returned.
   */
  async createIntegration(
    workspaceId: string,
    name: string,
    integrationTypeName = "CUSTOM",
    schema: IntegrationVariable[] = [],
  ): Promise<string> {
    const body = {
      name,
      integration_type: integrationType(integrationTypeName),
      integration_schema: integrationSchema(schema),
    };
    const path = `/workspaces/${seg(workspaceId, "workspaceId")}/integrations`;
    return (await this.#http.request<Integration>("POST", path, body)).integration_id;
  }

  async listIntegrations(workspaceId: string): Promise<Integration[]> {
    const path = `/workspaces/${seg(workspaceId, "workspaceId")}/integrations`;
    return (await this.#http.request<{ integrations: Integration[] }>("GET", path)).integrations;
  }

  /** Creates a project in a workspace; the answer has `project_id` and `registerModel`. */
  async createProject(name: string, description: string | undefined, workspaceId: string): Promise<ProjectHandle> {
    const body = { name, workspace_id: workspaceId, ...(description === undefined ? {} : { description }) };
    return new ProjectHandle(this, await this.#http.request<Project>("POST", "/projects", body));
  }

  async getProject(projectId: string): Promise<ProjectHandle> {
    return new ProjectHandle(
      this,
      await this.#http.request<Project>("GET", `/projects/${seg(projectId, "projectId")}`),
    );
  }

  async listProjects(workspaceId: string): Promise<ProjectHandle[]> {
    const path = `/workspaces/${seg(workspaceId, "workspaceId")}/projects`;
    const { projects } = await this.#http.request<{ projects: Project[] }>("GET", path);
    return projects.map((p) => new ProjectHandle(this, p));
  }

  /** Same as `ProjectHandle.registerModel`; returns the model id. */
  async registerModel(
    projectId: string,
    name: string,
    modelConfig: ModelConfig,
    integrationId?: string,
  ): Promise<string> {
    checkModelConfig(modelConfig);
    const body = {
      name,
      model_config: modelConfig,
      ...(integrationId == null ? {} : { integration_id: integrationId }),
    };
    const path = `/projects/${seg(projectId, "projectId")}/models`;
    return (await this.#http.request<Model>("POST", path, body)).model_id;
  }

  /** The model with its `latest_file_scan` (null before the first scan). */
  async getModel(modelId: string): Promise<Model> {
    return await this.#http.request("GET", `/models/${seg(modelId, "modelId")}`);
  }

  async listModels(projectId: string): Promise<Model[]> {
    const path = `/projects/${seg(projectId, "projectId")}/models`;
    return (await this.#http.request<{ models: Model[] }>("GET", path)).models;
  }

  /** Queues a scan of the model's files; returns its job. `ramRequestMegabytes` caps the scan's memory. */
  async startFileScan(modelId: string, projectId: string, ramRequestMegabytes?: number): Promise<FileScanJob> {
    checkRam(ramRequestMegabytes);
    const body = {
      model_id: modelId,
      project_id: projectId,
      ...(ramRequestMegabytes === undefined ? {} : { ram_request_megabytes: ramRequestMegabytes }),
    };
    return new FileScanJob(this, await this.#http.request<FileScan>("POST", "/file-scans", body));
  }

  /** The job of an existing file scan (the job id is the file scan id). */
  async getJob(jobId: string): Promise<FileScanJob> {
    return new FileScanJob(this, await this.readFileScan(jobId, false));
  }

  /**
   * The scan with its report: `severity` (1 Pass, 2 Warning, 3 Alert), `severity_label`, `file_security_reports`
   * (each with `unsafe_dependencies`), `scanned_files`, `stats`. A job id works too: a file scan is its job.
   */
  async getFileScanResult(fileScanId: string): Promise<FileScanResult> {
    return liftReport(await this.readFileScan(fileScanId, true));
  }

  /** Every scan of the model, newest first, each with its report. */
  async listFileScanResults(modelId: string): Promise<FileScanResult[]> {
    const path = `/models/${seg(modelId, "modelId")}/file-scans`;
    return (await this.#http.request<{ file_scans: FileScan[] }>("GET", path)).file_scans.map(liftReport);
  }

  /** Judges a finished scan again with the server's current rules pack, from its stored inventories. */
  async rejudgeFileScan(fileScanId: string): Promise<FileScan> {
    return await this.#http.request("POST", `/file-scans/${seg(fileScanId, "fileScanId")}/rejudge`);
  }

  /** The server's rules pack: version and counts. */
  async getRules(): Promise<RulesInfo> {
    return await this.#http.request("GET", "/rules");
  }

  /** One rule of the server's pack with its page (`unlisted` too); 404 for an id the pack does not have. */
  async getRule(ruleId: string): Promise<RuleDetail> {
    return await this.#http.request("GET", `/rules/${seg(ruleId, "ruleId")}`);
  }

  async getSettings(): Promise<ServerSettings> {
    return await this.#http.request("GET", "/settings");
  }

  /** A finished scan's report, parsed: the JSON result shape, a SARIF 2.1.0 log or a CycloneDX 1.6 BOM. */
  async getFileScanReport(fileScanId: string, format: ReportFormat = "json"): Promise<unknown> {
    const path = `/file-scans/${seg(fileScanId, "fileScanId")}/report`;
    return await this.#http.request("GET", path, undefined, { format });
  }

  // Manage: rename, edit and delete. A workspace key acts only within its workspace (404 elsewhere).

  async renameWorkspace(workspaceId: string, name: string): Promise<Workspace> {
    return await this.#http.request("PATCH", `/workspaces/${seg(workspaceId, "workspaceId")}`, { name });
  }

  /** Deletes a workspace with everything in it (admin keys only). */
  async deleteWorkspace(workspaceId: string): Promise<void> {
    await this.#http.request("DELETE", `/workspaces/${seg(workspaceId, "workspaceId")}`);
  }

  /** The workspace's keys: name, prefix and creation time, never the key. */
  async listApiKeys(workspaceId: string): Promise<ApiKeyInfo[]> {
    const path = `/workspaces/${seg(workspaceId, "workspaceId")}/api-keys`;
    return (await this.#http.request<{ api_keys: ApiKeyInfo[] }>("GET", path)).api_keys;
  }

  async revokeApiKey(workspaceId: string, keyId: string): Promise<void> {
    const path = `/workspaces/${seg(workspaceId, "workspaceId")}/api-keys/${seg(keyId, "keyId")}`;
    await this.#http.request("DELETE", path);
  }

  async updateProject(projectId: string, changes: UpdateProjectBody): Promise<Project> {
    return await this.#http.request("PATCH", `/projects/${seg(projectId, "projectId")}`, changes);
  }

  /** Deletes a project with its models and their scans. */
  async deleteProject(projectId: string): Promise<void> {
    await this.#http.request("DELETE", `/projects/${seg(projectId, "projectId")}`);
  }

  /** Renames a model, moves it to another revision, or sets (null: removes) its integration. */
  async updateModel(modelId: string, changes: UpdateModelBody): Promise<Model> {
    return await this.#http.request("PATCH", `/models/${seg(modelId, "modelId")}`, changes);
  }

  /** Deletes a model; its scans go too unless `keepHistory` (the default is to delete them). */
  async deleteModel(modelId: string, options: { keepHistory?: boolean } = {}): Promise<void> {
    const query = options.keepHistory ? { keep_history: "true" } : undefined;
    await this.#http.request("DELETE", `/models/${seg(modelId, "modelId")}`, undefined, query);
  }

  /**
   * Renames an integration or replaces its fields. A field given without `value` keeps its stored value, so a
   * secret can be replaced but is never read back.
   */
  async updateIntegration(
    integrationId: string,
    changes: { name?: string; schema?: IntegrationVariable[] },
  ): Promise<Integration> {
    const body = {
      ...(changes.name === undefined ? {} : { name: changes.name }),
      ...(changes.schema === undefined ? {} : { integration_schema: integrationSchema(changes.schema) }),
    };
    return await this.#http.request("PATCH", `/integrations/${seg(integrationId, "integrationId")}`, body);
  }

  /** Deletes an integration no model uses (the server refuses one in use). */
  async deleteIntegration(integrationId: string): Promise<void> {
    await this.#http.request("DELETE", `/integrations/${seg(integrationId, "integrationId")}`);
  }

  /** Scans new commits of the model's branch or tag from now on (polling and Hub webhooks). */
  async followModel(modelId: string): Promise<Model> {
    return await this.updateModel(modelId, { follow: true });
  }

  /** Stops scanning new commits of the model; it stays registered with its history. */
  async unfollowModel(modelId: string): Promise<Model> {
    return await this.updateModel(modelId, { follow: false });
  }

  /** A workspace's poll interval and whether its Hub webhook secret is set. */
  async getFollowSettings(workspaceId: string): Promise<FollowSettings> {
    return await this.#http.request("GET", `/workspaces/${seg(workspaceId, "workspaceId")}/follow`);
  }

  /**
   * Sets how often followed models are polled (null: the server's default) and the secret a Hub webhook must
   * send as X-Webhook-Secret (null: webhooks refused).
   */
  async setFollowSettings(workspaceId: string, settings: FollowSettingsBody): Promise<FollowSettings> {
    return await this.#http.request("PATCH", `/workspaces/${seg(workspaceId, "workspaceId")}/follow`, settings);
  }

  /** A workspace's custom rules, newest version. */
  async getWorkspaceRules(workspaceId: string): Promise<WorkspaceRules> {
    return await this.#http.request("GET", `/workspaces/${seg(workspaceId, "workspaceId")}/rules`);
  }

  /** Replaces a workspace's custom rules (a rules file as for `--rules`); latest results are judged again. */
  async setWorkspaceRules(workspaceId: string, rules: Record<string, unknown>): Promise<WorkspaceRulesChange> {
    return await this.#http.request("PUT", `/workspaces/${seg(workspaceId, "workspaceId")}/rules`, rules);
  }

  /** Clears a workspace's custom rules (a new version without rules); latest results are judged again. */
  async clearWorkspaceRules(workspaceId: string): Promise<WorkspaceRulesChange> {
    return await this.#http.request("DELETE", `/workspaces/${seg(workspaceId, "workspaceId")}/rules`);
  }

  /** Every version of a workspace's custom rules, newest first. */
  async listWorkspaceRuleVersions(workspaceId: string): Promise<Omit<WorkspaceRules, "rules_version">[]> {
    const body: { versions: WorkspaceRulesVersion[] } = await this.#http.request(
      "GET",
      `/workspaces/${seg(workspaceId, "workspaceId")}/rules/versions`,
    );
    return body.versions;
  }

  /**
   * Adds an outbound webhook: new Alerts, severity changes and failed scans of followed models are POSTed to
   * `url`, signed with `secret` (X-Modelvet-Signature; check it with `verifyWebhookSignature`).
   */
  async createWebhook(workspaceId: string, webhook: CreateWebhookBody): Promise<Webhook> {
    return await this.#http.request("POST", `/workspaces/${seg(workspaceId, "workspaceId")}/webhooks`, webhook);
  }

  async listWebhooks(workspaceId: string): Promise<Webhook[]> {
    const body: { webhooks: Webhook[] } = await this.#http.request(
      "GET",
      `/workspaces/${seg(workspaceId, "workspaceId")}/webhooks`,
    );
    return body.webhooks;
  }

  async getWebhook(workspaceId: string, webhookId: string): Promise<Webhook> {
    return await this.#http.request("GET", webhookPath(workspaceId, webhookId));
  }

  /** Deletes the webhook with its pending deliveries and log. */
  async deleteWebhook(workspaceId: string, webhookId: string): Promise<void> {
    await this.#http.request("DELETE", webhookPath(workspaceId, webhookId));
  }

  /** The webhook's deliveries, newest first, each with its attempts. */
  async listWebhookDeliveries(workspaceId: string, webhookId: string): Promise<WebhookDelivery[]> {
    const body: { deliveries: WebhookDelivery[] } = await this.#http.request(
      "GET",
      `${webhookPath(workspaceId, webhookId)}/deliveries`,
    );
    return body.deliveries;
  }

  /** @internal Used by FileScanJob.getStatus. */
  async readFileScan(fileScanId: string, verbose: boolean): Promise<FileScan> {
    const query = verbose ? { verbose: "true" } : undefined;
    return await this.#http.request("GET", `/file-scans/${seg(fileScanId, "fileScanId")}`, undefined, query);
  }
}

function webhookPath(workspaceId: string, webhookId: string): string {
  return `/workspaces/${seg(workspaceId, "workspaceId")}/webhooks/${seg(webhookId, "webhookId")}`;
}
