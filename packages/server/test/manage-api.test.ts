import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { FakeHub } from "../../engine/test/support/hub-server.js";
import { ADMIN_KEY, HUB_TOKEN, removeDir, startHub, startTestService, tempDir, type TestService } from "./helpers.js";

type Body = Record<string, unknown>;

/** Edits, deletes, API keys, rules and report downloads, each with the workspace isolation of the reads. */
const run = promisify(execFile);
const CLI = fileURLToPath(new URL("../../cli/bin/modelvet.js", import.meta.url));

describe("manage API", () => {
  let hub: FakeHub;
  let dataDir: string;
  let ts: TestService;

  async function api(method: string, path: string, key: string, payload?: unknown) {
    const response = await ts.service.app!.inject({
      method: method as "GET",
      url: `/api/v1${path}`,
      headers: { authorization: `Bearer ${key}` },
      ...(payload !== undefined ? { payload: payload as Body } : {}),
    });
    let body: Body = {};
    try {
      body = response.json<Body>();
    } catch {
      // 204
    }
    return { status: response.statusCode, body, text: response.body, headers: response.headers };
  }

  async function makeWorkspace(name: string) {
    const ws = await api("POST", "/workspaces", ADMIN_KEY, { name });
    const workspaceId = ws.body.workspace_id as string;
    const key = await api("POST", `/workspaces/${workspaceId}/api-keys`, ADMIN_KEY, { name: "ci" });
    const apiKey = key.body.api_key as string;
    const integration = await api("POST", `/workspaces/${workspaceId}/integrations`, apiKey, {
      name: "hub",
      integration_type: "CUSTOM",
      integration_schema: [{ name: "HUGGINGFACE_API_TOKEN", sensitivity: "SECRET", value: HUB_TOKEN }],
    });
    const project = await api("POST", "/projects", apiKey, { name: "p", workspace_id: workspaceId });
    const projectId = project.body.project_id as string;
    const model = await api("POST", `/projects/${projectId}/models`, apiKey, {
      name: "payload",
      model_config: { hugging_face: { model_uri: "acme/payload" } },
    });
    return {
      workspaceId,
      apiKey,
      keyId: key.body.key_id as string,
      projectId,
      integrationId: integration.body.integration_id as string,
      modelId: model.body.model_id as string,
    };
  }

  async function scanToEnd(modelId: string, projectId: string, key: string): Promise<string> {
    const started = await api("POST", "/file-scans", key, { model_id: modelId, project_id: projectId });
    expect(started.status).toBe(202);
    const id = started.body.file_scan_id as string;
    for (let i = 0; i < 300; i++) {
      const scan = await api("GET", `/file-scans/${id}`, key);
      if (scan.body.status === "succeeded" || scan.body.status === "failed") return id;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`scan ${id} did not finish`);
  }

  let a: Awaited<ReturnType<typeof makeWorkspace>>;
  let b: Awaited<ReturnType<typeof makeWorkspace>>;
  let bScanId: string;

  beforeAll(async () => {
    hub = await startHub();
    dataDir = tempDir();
    ts = await startTestService({ dataDir, hubUrl: hub.hubUrl });
    a = await makeWorkspace("A");
    b = await makeWorkspace("B");
    bScanId = await scanToEnd(b.modelId, b.projectId, b.apiKey);
  });

  afterAll(async () => {
    await ts?.service.close();
    await hub?.stop();
    removeDir(dataDir);
  });

  test("a key of workspace A gets 404 for every new route on anything of workspace B", async () => {
    const calls: Array<[string, string, unknown?]> = [
      ["PATCH", `/workspaces/${b.workspaceId}`, { name: "x" }],
      ["DELETE", `/workspaces/${b.workspaceId}`],
      ["GET", `/workspaces/${b.workspaceId}/api-keys`],
      ["DELETE", `/workspaces/${b.workspaceId}/api-keys/${b.keyId}`],
      // B's key id under A's workspace: the key is found only in its own workspace.
      ["DELETE", `/workspaces/${a.workspaceId}/api-keys/${b.keyId}`],
      ["PATCH", `/projects/${b.projectId}`, { name: "x" }],
      ["DELETE", `/projects/${b.projectId}`],
      ["PATCH", `/models/${b.modelId}`, { name: "x" }],
      ["DELETE", `/models/${b.modelId}`],
      ["DELETE", `/models/${b.modelId}?keep_history=true`],
      ["PATCH", `/integrations/${b.integrationId}`, { name: "x" }],
      ["DELETE", `/integrations/${b.integrationId}`],
      ["GET", `/file-scans/${bScanId}/report`],
      ["GET", `/file-scans/${bScanId}/report?format=sarif`],
      ["GET", `/file-scans/${bScanId}/report?format=cyclonedx`],
      // A's model with B's integration: as invisible as the rest of B.
      ["PATCH", `/models/${a.modelId}`, { integration_id: b.integrationId }],
    ];
    for (const [method, path, payload] of calls) {
      const answer = await api(method, path, a.apiKey, payload);
      expect({ method, path, status: answer.status }).toEqual({ method, path, status: 404 });
    }
    // Nothing of B changed.
    const bModel = await api("GET", `/models/${b.modelId}`, b.apiKey);
    expect(bModel.body.name).toBe("payload");
    expect((await api("GET", `/workspaces/${b.workspaceId}/api-keys`, b.apiKey)).status).toBe(200);
  });

  test("rename and edit: workspace, project, model, integration (a secret is replaced, never read)", async () => {
    const w = await makeWorkspace("edit me");
    expect((await api("PATCH", `/workspaces/${w.workspaceId}`, w.apiKey, { name: "edited" })).body.name).toBe("edited");
    const project = await api("PATCH", `/projects/${w.projectId}`, w.apiKey, { description: "new words" });
    expect(project.body).toMatchObject({ name: "p", description: "new words" });
    expect((await api("PATCH", `/projects/${w.projectId}`, w.apiKey, {})).status).toBe(400);
    const model = await api("PATCH", `/models/${w.modelId}`, w.apiKey, {
      name: "renamed",
      revision: "v2",
      integration_id: w.integrationId,
    });
    expect(model.body).toMatchObject({
      name: "renamed",
      integration_id: w.integrationId,
      model_config: { hugging_face: { model_uri: "acme/payload", revision: "v2" } },
    });
    expect((await api("PATCH", `/models/${w.modelId}`, w.apiKey, { integration_id: null })).body.integration_id).toBe(
      null,
    );

    // Keep the secret (no value) while adding a public field; then replace the secret.
    const kept = await api("PATCH", `/integrations/${w.integrationId}`, w.apiKey, {
      name: "hub2",
      integration_schema: [
        { name: "HUGGINGFACE_API_TOKEN", sensitivity: "SECRET" },
        { name: "ORG", sensitivity: "PUBLIC", value: "acme" },
      ],
    });
    expect(kept.status).toBe(200);
    expect(kept.body.fields).toEqual([
      { name: "HUGGINGFACE_API_TOKEN", sensitivity: "SECRET" },
      { name: "ORG", sensitivity: "PUBLIC", value: "acme" },
    ]);
    const replaced = await api("PATCH", `/integrations/${w.integrationId}`, w.apiKey, {
      integration_schema: [{ name: "HUGGINGFACE_API_TOKEN", sensitivity: "SECRET", value: "hf_new-token-value" }],
    });
    expect(replaced.text).not.toContain("hf_new-token-value");
    expect(replaced.text).not.toContain(HUB_TOKEN);
    // A new secret field with no value has nothing to keep.
    const missing = await api("PATCH", `/integrations/${w.integrationId}`, w.apiKey, {
      integration_schema: [{ name: "OTHER", sensitivity: "SECRET" }],
    });
    expect(missing.status).toBe(400);
  });

  test("delete: an integration in use is refused; a model keeps or drops its history; workspaces need an admin", async () => {
    const w = await makeWorkspace("delete me");
    await api("PATCH", `/models/${w.modelId}`, w.apiKey, { integration_id: w.integrationId });
    expect((await api("DELETE", `/integrations/${w.integrationId}`, w.apiKey)).status).toBe(409);

    const kept = await scanToEnd(w.modelId, w.projectId, w.apiKey);
    expect((await api("DELETE", `/models/${w.modelId}?keep_history=true`, w.apiKey)).status).toBe(204);
    expect((await api("GET", `/models/${w.modelId}`, w.apiKey)).status).toBe(404);
    expect((await api("GET", `/file-scans/${kept}`, w.apiKey)).status).toBe(200);
    const models = await api("GET", `/projects/${w.projectId}/models`, w.apiKey);
    expect(models.body.models).toEqual([]);
    // The hidden model no longer holds the integration.
    expect((await api("DELETE", `/integrations/${w.integrationId}`, w.apiKey)).status).toBe(204);

    const second = await api("POST", `/projects/${w.projectId}/models`, w.apiKey, {
      name: "second",
      model_config: { hugging_face: { model_uri: "acme/payload" } },
    });
    const secondId = second.body.model_id as string;
    const dropped = await scanToEnd(secondId, w.projectId, w.apiKey);
    expect((await api("DELETE", `/models/${secondId}`, w.apiKey)).status).toBe(204);
    expect((await api("GET", `/file-scans/${dropped}`, w.apiKey)).status).toBe(404);

    expect((await api("DELETE", `/workspaces/${w.workspaceId}`, w.apiKey)).status).toBe(403);
    expect((await api("DELETE", `/projects/${w.projectId}`, w.apiKey)).status).toBe(204);
    expect((await api("GET", `/projects/${w.projectId}`, w.apiKey)).status).toBe(404);
    expect((await api("DELETE", `/workspaces/${w.workspaceId}`, ADMIN_KEY)).status).toBe(204);
    expect((await api("GET", `/workspaces/${w.workspaceId}`, ADMIN_KEY)).status).toBe(404);
    // Its keys went with it.
    expect((await api("GET", "/workspaces", w.apiKey)).status).toBe(401);
  });

  test("API keys: listed by prefix and creation time only, and a revoked key stops working", async () => {
    const w = await makeWorkspace("keys");
    const created = await api("POST", `/workspaces/${w.workspaceId}/api-keys`, w.apiKey, { name: "deploy" });
    const newKey = created.body.api_key as string;
    const list = await api("GET", `/workspaces/${w.workspaceId}/api-keys`, w.apiKey);
    expect(list.body.api_keys).toEqual([
      { key_id: w.keyId, name: "ci", prefix: w.apiKey.slice(0, 10), created_at: expect.any(String) as unknown },
      {
        key_id: created.body.key_id,
        name: "deploy",
        prefix: newKey.slice(0, 10),
        created_at: expect.any(String) as unknown,
      },
    ]);
    expect(list.text).not.toContain(newKey);
    expect((await api("GET", "/workspaces", newKey)).status).toBe(200);
    expect(
      (await api("DELETE", `/workspaces/${w.workspaceId}/api-keys/${created.body.key_id as string}`, w.apiKey)).status,
    ).toBe(204);
    expect((await api("GET", "/workspaces", newKey)).status).toBe(401);
    expect((await api("GET", "/workspaces", w.apiKey)).status).toBe(200);
  });

  test("rules: the list and each rule by id, with references and no scanner source links", async () => {
    const list = await api("GET", "/rules", a.apiKey);
    const entries = list.body.entries as Array<Body>;
    expect(entries.length).toBe((list.body.rules as number) + (list.body.indicators as number));
    const kinds = new Set(entries.map((e) => e.kind));
    expect(kinds).toEqual(new Set(["import", "indicator"]));
    for (const entry of [entries[0]!, entries.find((e) => e.kind === "indicator")!]) {
      const one = await api("GET", `/rules/${encodeURIComponent(entry.id as string)}`, a.apiKey);
      expect(one.body).toEqual({
        ...entry,
        explanation: expect.stringContaining(`# ${entry.id as string}`) as unknown,
      });
    }
    // No rule's references point at another scanner's source files (the pack keeps those as provenance only).
    expect(list.text).not.toMatch(
      /github\.com\/(promptfoo\/modelaudit|trailofbits\/fickling|mmaitre314\/picklescan)\/blob/,
    );
    // `unlisted` (no rule matched) has a page too, and every page is what `modelvet rules explain` prints.
    for (const id of ["deny-os", "unlisted"]) {
      const one = await api("GET", `/rules/${id}`, a.apiKey);
      expect(one.status).toBe(200);
      const { stdout } = await run(process.execPath, [CLI, "rules", "explain", id]);
      expect(one.body.explanation).toBe(stdout);
    }
    expect((await api("GET", "/rules/no-such-rule", a.apiKey)).status).toBe(404);
  });

  test("report downloads: JSON, SARIF and CycloneDX of a finished scan", async () => {
    const json = await api("GET", `/file-scans/${bScanId}/report?format=json`, b.apiKey);
    expect(json.status).toBe(200);
    expect(json.headers["content-disposition"]).toContain(`modelvet-${bScanId}.json`);
    expect(json.body).toMatchObject({
      severity: expect.any(Number) as unknown,
      file_security_reports: expect.any(Array) as unknown,
    });
    const sarif = await api("GET", `/file-scans/${bScanId}/report?format=sarif`, b.apiKey);
    expect(sarif.headers["content-type"]).toContain("application/sarif+json");
    expect(sarif.body).toMatchObject({
      version: "2.1.0",
      runs: [expect.objectContaining({ tool: expect.anything() as unknown })],
    });
    const cdx = await api("GET", `/file-scans/${bScanId}/report?format=cyclonedx`, b.apiKey);
    expect(cdx.status).toBe(200);
    expect(cdx.headers["content-type"]).toContain("application/vnd.cyclonedx+json");
    expect(cdx.headers["content-disposition"]).toContain(`modelvet-${bScanId}.cdx.json`);
    expect(cdx.body).toMatchObject({ bomFormat: "CycloneDX", specVersion: "1.6" });
    // Every scanned file is a component, and the scan's findings are vulnerabilities of those components.
    const scanned = (json.body as { scanned_files: { path: string }[] }).scanned_files.map((f) => f.path);
    const bom = cdx.body as { components: { name: string }[]; vulnerabilities?: { id: string }[] };
    expect(bom.components.map((c) => c.name)).toEqual(scanned);
    const findings = (
      json.body as { file_security_reports: { unsafe_dependencies: unknown[]; indicators: unknown[] }[] }
    ).file_security_reports.flatMap((f) => [...f.unsafe_dependencies, ...f.indicators]);
    expect(bom.vulnerabilities?.length ?? 0).toBe(findings.length);
    expect((await api("GET", `/file-scans/${bScanId}/report?format=pdf`, b.apiKey)).status).toBe(400);
  });
});
