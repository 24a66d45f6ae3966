import { seg, Transport } from "./http.js";
import { FileScanJob, type FileScanReader } from "./job.js";
import { checkModelConfig, checkRam, integrationSchema, integrationType, liftReport } from "./normalise.js";
import { ProjectHandle, type ModelRegistrar } from "./project.js";
import type {
  ApiKey,
  FileScan,
  FileScanResult,
  Integration,
  IntegrationVariable,
  Model,
  ModelConfig,
  Project,
  RulesInfo,
  Workspace,
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

  /** @internal Used by FileScanJob.getStatus. */
  async readFileScan(fileScanId: string, verbose: boolean): Promise<FileScan> {
    const query = verbose ? { verbose: "true" } : undefined;
    return await this.#http.request("GET", `/file-scans/${seg(fileScanId, "fileScanId")}`, undefined, query);
  }
}
