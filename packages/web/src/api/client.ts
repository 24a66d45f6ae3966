import { getApiKey } from "./session";
import type {
  FileScan,
  Integration,
  IntegrationField,
  Model,
  Project,
  RulesInfo,
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
    const err = (data ?? {}) as { error?: string; message?: string };
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
};

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
};
