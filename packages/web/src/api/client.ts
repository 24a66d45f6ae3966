import { getApiKey } from "./session";
import type {
  ApiKey,
  ApiKeyInfo,
  CreateWebhookBody,
  ErrorBody,
  FileScan,
  Integration,
  IntegrationField,
  Model,
  Project,
  ReportFormat,
  RuleDetail,
  RulesInfo,
  ServerSettings,
  UpdateIntegrationBody,
  UpdateModelBody,
  UpdateProjectBody,
  Webhook,
  WebhookDelivery,
  Workspace,
  WorkspaceSummary,
} from "./types";

const BASE = "/api/v1";

/** A failed call, carrying the server's `{ error, message }` so the page can show the message as written. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function isUnauthorized(error: unknown): boolean {
  return error instanceof ApiError && error.status === 401;
}

/**
 * One call to the API. `key` overrides the session key: the sign-in page tries a candidate key before storing it,
 * so a wrong key there is a form error rather than a "session expired" redirect.
 */
export async function request<T>(method: string, path: string, body?: unknown, key = getApiKey()): Promise<T> {
  let response: Response;
  try {
    response = await fetch(BASE + path, {
      method,
      headers: {
        Accept: "application/json",
        ...(key ? { Authorization: `Bearer ${key}` } : {}),
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "NetworkError", "The modelvet server could not be reached. Check that it is running.");
  }
  const text = await response.text();
  const data = parseJson(text);
  if (!response.ok) {
    const err = (data ?? {}) as Partial<ErrorBody>;
    throw new ApiError(
      response.status,
      err.error ?? `HTTP${response.status}`,
      err.message ?? `The server answered ${response.status} ${response.statusText}.`,
    );
  }
  return data as T;
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const id = encodeURIComponent;

// One function per call of docs/API.md, so pages read as "what" and this file holds the "how".
export const api = {
  listWorkspaces: (key?: string) =>
    request<{ workspaces: Workspace[] }>("GET", "/workspaces", undefined, key ?? getApiKey()),
  createWorkspace: (name: string) => request<Workspace>("POST", "/workspaces", { name }),
  workspace: (workspaceId: string) => request<WorkspaceSummary>("GET", `/workspaces/${id(workspaceId)}`),
  integrations: (workspaceId: string) =>
    request<{ integrations: Integration[] }>("GET", `/workspaces/${id(workspaceId)}/integrations`),
  createIntegration: (workspaceId: string, name: string, fields: Required<IntegrationField>[]) =>
    request<Integration>("POST", `/workspaces/${id(workspaceId)}/integrations`, {
      name,
      integration_type: "CUSTOM",
      integration_schema: fields,
    }),
  createProject: (workspaceId: string, name: string, description: string) =>
    request<Project>("POST", "/projects", {
      name,
      workspace_id: workspaceId,
      ...(description ? { description } : {}),
    }),
  project: (projectId: string) => request<Project>("GET", `/projects/${id(projectId)}`),
  models: (projectId: string) => request<{ models: Model[] }>("GET", `/projects/${id(projectId)}/models`),
  registerModel: (
    projectId: string,
    input: { name: string; modelUri: string; revision: string; integrationId: string | null },
  ) =>
    request<Model>("POST", `/projects/${id(projectId)}/models`, {
      name: input.name,
      model_config: { hugging_face: { model_uri: input.modelUri, revision: input.revision || "main" } },
      ...(input.integrationId ? { integration_id: input.integrationId } : {}),
    }),
  model: (modelId: string) => request<Model>("GET", `/models/${id(modelId)}`),
  fileScans: (modelId: string) => request<{ file_scans: FileScan[] }>("GET", `/models/${id(modelId)}/file-scans`),
  fileScan: (fileScanId: string) => request<FileScan>("GET", `/file-scans/${id(fileScanId)}`),
  startFileScan: (modelId: string, projectId: string) =>
    request<FileScan>("POST", "/file-scans", { model_id: modelId, project_id: projectId }),
  rejudge: (fileScanId: string) => request<FileScan>("POST", `/file-scans/${id(fileScanId)}/rejudge`),
  rules: () => request<RulesInfo>("GET", "/rules"),
  rule: (ruleId: string) => request<RuleDetail>("GET", `/rules/${id(ruleId)}`),
  settings: () => request<ServerSettings>("GET", "/settings"),

  // Manage: rename, edit, delete; API keys.
  renameWorkspace: (workspaceId: string, name: string) =>
    request<Workspace>("PATCH", `/workspaces/${id(workspaceId)}`, { name }),
  deleteWorkspace: (workspaceId: string) => request<void>("DELETE", `/workspaces/${id(workspaceId)}`),
  apiKeys: (workspaceId: string) =>
    request<{ api_keys: ApiKeyInfo[] }>("GET", `/workspaces/${id(workspaceId)}/api-keys`),
  createApiKey: (workspaceId: string, name: string) =>
    request<ApiKey>("POST", `/workspaces/${id(workspaceId)}/api-keys`, { name }),
  revokeApiKey: (workspaceId: string, keyId: string) =>
    request<void>("DELETE", `/workspaces/${id(workspaceId)}/api-keys/${id(keyId)}`),
  webhooks: (workspaceId: string) => request<{ webhooks: Webhook[] }>("GET", `/workspaces/${id(workspaceId)}/webhooks`),
  createWebhook: (workspaceId: string, webhook: CreateWebhookBody) =>
    request<Webhook>("POST", `/workspaces/${id(workspaceId)}/webhooks`, webhook),
  deleteWebhook: (workspaceId: string, webhookId: string) =>
    request<void>("DELETE", `/workspaces/${id(workspaceId)}/webhooks/${id(webhookId)}`),
  webhookDeliveries: (workspaceId: string, webhookId: string) =>
    request<{ deliveries: WebhookDelivery[] }>(
      "GET",
      `/workspaces/${id(workspaceId)}/webhooks/${id(webhookId)}/deliveries`,
    ),
  updateProject: (projectId: string, changes: UpdateProjectBody) =>
    request<Project>("PATCH", `/projects/${id(projectId)}`, changes),
  deleteProject: (projectId: string) => request<void>("DELETE", `/projects/${id(projectId)}`),
  updateModel: (modelId: string, changes: UpdateModelBody) =>
    request<Model>("PATCH", `/models/${id(modelId)}`, changes),
  deleteModel: (modelId: string, keepHistory: boolean) =>
    request<void>("DELETE", `/models/${id(modelId)}${keepHistory ? "?keep_history=true" : ""}`),
  updateIntegration: (integrationId: string, changes: UpdateIntegrationBody) =>
    request<Integration>("PATCH", `/integrations/${id(integrationId)}`, changes),
  deleteIntegration: (integrationId: string) => request<void>("DELETE", `/integrations/${id(integrationId)}`),
};

/**
 * Downloads a scan's report in a format: fetched with the session's key (a plain link cannot send it), then saved
 * under the server's file name through a temporary object URL.
 */
export async function downloadReport(fileScanId: string, format: ReportFormat): Promise<void> {
  const key = getApiKey();
  const response = await fetch(`${BASE}/file-scans/${id(fileScanId)}/report?format=${format}`, {
    headers: key ? { Authorization: `Bearer ${key}` } : {},
  }).catch(() => {
    throw new ApiError(0, "NetworkError", "The modelvet server could not be reached. Check that it is running.");
  });
  if (!response.ok) {
    const err = (parseJson(await response.text()) ?? {}) as Partial<ErrorBody>;
    throw new ApiError(response.status, err.error ?? `HTTP${response.status}`, err.message ?? "The download failed.");
  }
  const name = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") ?? "")?.[1];
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name ?? `modelvet-${fileScanId}.${format === "cyclonedx" ? "cdx.json" : format}`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Query keys in one place, so a mutation invalidates exactly what it changed. */
export const keys = {
  workspaces: ["workspaces"] as const,
  workspace: (workspaceId: string) => ["workspace", workspaceId] as const,
  integrations: (workspaceId: string) => ["integrations", workspaceId] as const,
  project: (projectId: string) => ["project", projectId] as const,
  models: (projectId: string) => ["models", projectId] as const,
  model: (modelId: string) => ["model", modelId] as const,
  fileScans: (modelId: string) => ["fileScans", modelId] as const,
  fileScan: (fileScanId: string) => ["fileScan", fileScanId] as const,
  rules: ["rules"] as const,
  rule: (ruleId: string) => ["rule", ruleId] as const,
  settings: ["settings"] as const,
  apiKeys: (workspaceId: string) => ["apiKeys", workspaceId] as const,
  webhooks: (workspaceId: string) => ["webhooks", workspaceId] as const,
  deliveries: (webhookId: string) => ["webhookDeliveries", webhookId] as const,
};
