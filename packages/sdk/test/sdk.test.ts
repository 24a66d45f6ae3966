import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeHub, smallFile } from "../../engine/test/support/hub-server.js";
import { Client, ModelvetError, type Workspace } from "../src/index.js";
import { REPO_ROOT, startService, type RunningService } from "./support/service.js";

// The TypeScript SDK against the real service (`modelvet serve`), reading models from a Hub-compatible test server.
const HF_TOKEN = "hf_sdk_test_private_token_abcdef";
const SHA = "5d4".repeat(13) + "5";
const hub = new FakeHub();
let service: RunningService;
let admin: Client;
let workspace: Workspace;
let integrationId: string;

function fixture(name: string): Buffer {
  return readFileSync(join(REPO_ROOT, "packages/engine/test/fixtures/adversarial", name));
}

beforeAll(async () => {
  const commits = (file: Buffer) => ({ [SHA]: [smallFile("pytorch_model.bin", file, { lfs: true })] });
  hub.addRepo({
    id: "org/private",
    private: true,
    token: HF_TOKEN,
    refs: { main: SHA },
    commits: commits(fixture("o6-inst.pkl")),
  });
  hub.addRepo({ id: "org/benign", refs: { main: SHA }, commits: commits(fixture("copyreg-reconstructor-p2.pkl")) });
  await hub.start();
  service = await startService({ HF_ENDPOINT: hub.hubUrl });
  admin = new Client({ domain: `${service.url}/`, apiKey: service.apiKey });
  workspace = await admin.createWorkspace("sdk");
  integrationId = await admin.createIntegration(workspace.workspace_id, "hf", "CUSTOM", [
    { name: "HUGGINGFACE_API_TOKEN", sensitivity: "SECRET", value: HF_TOKEN },
    { name: "TEAM", sensitivity: "PUBLIC", value: "ml-platform" },
  ]);
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await hub.stop();
});

async function scanned(modelUri: string, withIntegration: boolean) {
  const project = await admin.createProject(`p-${modelUri}`, "sdk test", workspace.workspace_id);
  const config = { hugging_face: { model_uri: modelUri, revision: "main" } };
  const modelId = await project.registerModel(modelUri, config, withIntegration ? integrationId : undefined);
  const job = await admin.startFileScan(modelId, project.project_id, 512);
  const status = await job.getStatus({ verbose: true, waitUntilFinish: true, pollRateSec: 0.2, timeoutSec: 60 });
  return { project, modelId, job, status };
}

describe("the TypeScript SDK against the service", () => {
  it("scans a private model through an integration: Alert with os.system", async () => {
    const { project, modelId, job, status } = await scanned("org/private", true);
    expect(job.job_id).toBe(job.file_scan_id);
    expect(status).toMatchObject({ status: "succeeded", severity: 3, severity_label: "Alert", commit: SHA });
    expect(status.result?.severity).toBe(3);

    const result = await admin.getFileScanResult(job.job_id);
    expect(result.severity).toBe(3);
    const deps = result.file_security_reports?.flatMap((r) => r.unsafe_dependencies) ?? [];
    expect(deps.map((d) => `${d.module}.${d.name}`)).toContain("os.system");

    const results = await admin.listFileScanResults(modelId);
    expect(results[0]?.file_scan_id).toBe(job.job_id);
    expect(results[0]?.file_security_reports?.length).toBeGreaterThan(0);
    const model = await admin.getModel(modelId);
    expect(model.latest_file_scan?.file_scan_id).toBe(job.job_id);
    expect(model.integration_id).toBe(integrationId);
    expect((await admin.listModels(project.project_id)).map((m) => m.model_id)).toEqual([modelId]);
    expect((await admin.getProject(project.project_id)).models_by_severity?.alert).toBe(1);

    const rejudged = await admin.rejudgeFileScan(job.job_id);
    expect([rejudged.file_scan_id, rejudged.severity]).toEqual([job.job_id, 3]);
    expect((await admin.getJob(job.job_id)).job_id).toBe(job.job_id);
  });

  it("passes a benign public model", async () => {
    const { status } = await scanned("org/benign", false);
    expect(status).toMatchObject({ status: "succeeded", severity: 1, severity_label: "Pass" });
  });

  it("fails a private model without its token, with a reason", async () => {
    const { status } = await scanned("org/private", false);
    expect(status.status).toBe("failed");
    expect(status.error).toMatch(/\S/);
  });

  it("reads workspaces, integrations and rules, never a secret value", async () => {
    expect((await admin.listWorkspaces()).map((w) => w.workspace_id)).toContain(workspace.workspace_id);
    const summary = await admin.getWorkspace(workspace.workspace_id);
    expect(summary.projects.length).toBeGreaterThan(0);
    const integrations = await admin.listIntegrations(workspace.workspace_id);
    expect(integrations.map((i) => i.integration_id)).toEqual([integrationId]);
    expect(integrations[0]?.fields).toEqual(
      expect.arrayContaining([
        { name: "HUGGINGFACE_API_TOKEN", sensitivity: "SECRET" },
        { name: "TEAM", sensitivity: "PUBLIC", value: "ml-platform" },
      ]),
    );
    expect(JSON.stringify([summary, integrations])).not.toContain(HF_TOKEN);
    expect(service.logs()).not.toContain(HF_TOKEN);
    const rules = await admin.getRules();
    expect(rules.version).toMatch(/\S/);
    expect(rules.rules).toBeGreaterThan(0);
  });

  it("gives a workspace key 404 outside its workspace, and an unknown key 401", async () => {
    const other = await admin.createWorkspace("other");
    const { api_key } = await admin.createApiKey(other.workspace_id, "ci");
    const scoped = new Client({ domain: service.url, apiKey: api_key });
    expect((await scoped.listWorkspaces()).map((w) => w.workspace_id)).toEqual([other.workspace_id]);
    const denied = await scoped.getWorkspace(workspace.workspace_id).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(ModelvetError);
    expect((denied as ModelvetError).status).toBe(404);
    expect((denied as ModelvetError).reason).toMatch(/\S/);
    await expect(scoped.createWorkspace("nope")).rejects.toBeInstanceOf(ModelvetError);

    const bad = await new Client({ domain: service.url, apiKey: "mv_not_a_key" })
      .listWorkspaces()
      .catch((e: unknown) => e);
    expect((bad as ModelvetError).status).toBe(401);
    expect((bad as ModelvetError).message).not.toContain("mv_not_a_key");
  });

  it("edits and deletes through the manage methods, inside the key's workspace only", async () => {
    const ws = await admin.createWorkspace("manage");
    const { api_key, key_id } = await admin.createApiKey(ws.workspace_id, "team");
    const team = new Client({ domain: service.url, apiKey: api_key });
    const stranger = new Client({
      domain: service.url,
      apiKey: (await admin.createApiKey(workspace.workspace_id, "x")).api_key,
    });
    const status = (p: Promise<unknown>) =>
      p.then(
        () => 200,
        (e: ModelvetError) => e.status,
      );

    expect((await team.renameWorkspace(ws.workspace_id, "manage 2")).name).toBe("manage 2");
    const intId = await team.createIntegration(ws.workspace_id, "hf", "CUSTOM", [
      { name: "HUGGINGFACE_API_TOKEN", sensitivity: "SECRET", value: "hf_old_secret" },
    ]);
    const replaced = await team.updateIntegration(intId, {
      name: "hf token",
      schema: [{ name: "HUGGINGFACE_API_TOKEN", sensitivity: "SECRET", value: "hf_new_secret" }],
    });
    expect(replaced).toMatchObject({
      name: "hf token",
      fields: [{ name: "HUGGINGFACE_API_TOKEN", sensitivity: "SECRET" }],
    });
    expect(JSON.stringify(replaced)).not.toContain("hf_new_secret");

    const project = await team.createProject("p", undefined, ws.workspace_id);
    expect((await team.updateProject(project.project_id, { description: "edited" })).description).toBe("edited");
    const modelId = await project.registerModel("m", { hugging_face: { model_uri: "org/benign" } }, intId);
    const model = await team.updateModel(modelId, { name: "renamed", revision: "v2", integration_id: null });
    expect(model).toMatchObject({ name: "renamed", integration_id: null });
    expect(model.model_config.hugging_face.revision).toBe("v2");

    // Another workspace's key sees none of it: 404 on every call, as for reads.
    for (const call of [
      () => stranger.renameWorkspace(ws.workspace_id, "x"),
      () => stranger.listApiKeys(ws.workspace_id),
      () => stranger.revokeApiKey(ws.workspace_id, key_id),
      () => stranger.updateProject(project.project_id, { name: "x" }),
      () => stranger.deleteProject(project.project_id),
      () => stranger.updateModel(modelId, { name: "x" }),
      () => stranger.deleteModel(modelId),
      () => stranger.updateIntegration(intId, { name: "x" }),
      () => stranger.deleteIntegration(intId),
    ])
      expect(await status(call())).toBe(404);

    const keys = await team.listApiKeys(ws.workspace_id);
    expect(keys.map((k) => k.key_id)).toEqual([key_id]);
    expect(JSON.stringify(keys)).not.toContain(api_key);
    await team.deleteModel(modelId);
    expect(await status(team.getModel(modelId))).toBe(404);
    await team.deleteIntegration(intId);
    await team.deleteProject(project.project_id);
    expect(await status(team.getProject(project.project_id))).toBe(404);
    await admin.revokeApiKey(ws.workspace_id, key_id);
    expect(await status(team.listWorkspaces())).toBe(401);
    await admin.deleteWorkspace(ws.workspace_id);
    expect(await status(admin.getWorkspace(ws.workspace_id))).toBe(404);
  });

  it("reads a rule's page, the server settings and a scan's exported reports", async () => {
    const rule = await admin.getRule("deny-os");
    expect(rule).toMatchObject({ id: "deny-os", kind: "import", severity: 3 });
    expect(rule.explanation).toContain("# deny-os");
    expect(await admin.getRule("no-such-rule").catch((e: ModelvetError) => e.status)).toBe(404);
    expect((await admin.getSettings()).hub_endpoint).toBe(hub.hubUrl);
    const { job } = await scanned("org/private", true);
    const sarif = (await admin.getFileScanReport(job.file_scan_id, "sarif")) as { version: string };
    expect(sarif.version).toBe("2.1.0");
    const bom = (await admin.getFileScanReport(job.file_scan_id, "cyclonedx")) as { bomFormat: string };
    expect(bom.bomFormat).toBe("CycloneDX");
    const json = (await admin.getFileScanReport(job.file_scan_id)) as { severity: number };
    expect(json.severity).toBe(3);
  });

  it("answers bad input with a 4xx and a message", async () => {
    const e = await admin.startFileScan("not-a-uuid", "also-not").catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ModelvetError);
    expect((e as ModelvetError).status).toBeGreaterThanOrEqual(400);
    expect((e as ModelvetError).status).toBeLessThan(500);
    expect((e as ModelvetError).reason).toMatch(/\S/);
  });
});
