import { afterAll, beforeAll, expect, it } from "vitest";
import { Client, ModelvetError } from "../src/index.js";
import { payloadRepo, startHubAndService, type HubAndService } from "./support/hub-service.js";

// Continuous-scanning calls of the TypeScript SDK against the real service: follow/unfollow, the workspace's
// follow settings (poll interval, Hub webhook secret) and workspace custom rules.
const SHA = "7e1".repeat(13) + "7";
let running: HubAndService | undefined;
let admin: Client;

beforeAll(async () => {
  running = await startHubAndService([payloadRepo("org/payload", SHA)]);
  admin = new Client({ domain: running.service.url, apiKey: running.service.apiKey });
}, 60_000);

afterAll(() => running?.stop());

it("follows and unfollows a model, and sets the workspace's poll interval and webhook secret", async () => {
  const ws = await admin.createWorkspace("follow");
  const project = await admin.createProject("p", "", ws.workspace_id);
  const branch = await project.registerModel("org/payload", { hugging_face: { model_uri: "org/payload" } });
  const pinned = await project.registerModel("org/payload", {
    hugging_face: { model_uri: "org/payload", revision: SHA },
  });
  expect((await admin.getModel(branch)).model_config.hugging_face.follow).toBe(true);
  expect((await admin.getModel(pinned)).model_config.hugging_face.follow).toBe(false);
  expect((await admin.unfollowModel(branch)).model_config.hugging_face.follow).toBe(false);
  expect((await admin.followModel(pinned)).model_config.hugging_face.follow).toBe(true);

  expect(await admin.getFollowSettings(ws.workspace_id)).toMatchObject({
    poll_interval_is_default: true,
    hook_secret_set: false,
  });
  const set = await admin.setFollowSettings(ws.workspace_id, {
    poll_interval_seconds: 600,
    hook_secret: "s".repeat(20),
  });
  expect(set).toMatchObject({
    poll_interval_seconds: 600,
    poll_interval_is_default: false,
    hook_secret_set: true,
    hook_path: `/api/v1/hooks/huggingface/${ws.workspace_id}`,
  });
  expect(JSON.stringify(set)).not.toContain("s".repeat(20));
  const short = await admin.setFollowSettings(ws.workspace_id, { hook_secret: "short" }).catch((e: ModelvetError) => e);
  expect(short).toBeInstanceOf(ModelvetError);
  expect((short as ModelvetError).status).toBe(400);
});

it("sets, lists and clears workspace custom rules; a change re-judges the latest result", async () => {
  const ws = await admin.createWorkspace("rules");
  const project = await admin.createProject("p", "", ws.workspace_id);
  const modelId = await project.registerModel("org/payload", { hugging_face: { model_uri: "org/payload" } });
  const job = await admin.startFileScan(modelId, project.project_id);
  const status = await job.getStatus({ waitUntilFinish: true, pollRateSec: 0.2, timeoutSec: 60 });
  expect(status.severity_label).toBe("Alert");

  const lower = { rules: [{ id: "ws.os-system", match: "os.system", severity: 2, reason: "reviewed" }] };
  const changed = await admin.setWorkspaceRules(ws.workspace_id, lower);
  expect(changed).toMatchObject({ version: 1, rejudged: 1, changed_models: [modelId], rules: lower });
  expect((await admin.getModel(modelId)).latest_file_scan?.severity_label).toBe("Warning");
  expect((await admin.getWorkspaceRules(ws.workspace_id)).rules_version).toMatch(/\+workspace-rules-v1\.json$/);

  const bad = await admin.setWorkspaceRules(ws.workspace_id, { rules: [{ id: "x" }] }).catch((e: ModelvetError) => e);
  expect((bad as ModelvetError).status).toBe(400);

  const cleared = await admin.clearWorkspaceRules(ws.workspace_id);
  expect(cleared).toMatchObject({ version: 2, rules: null, changed_models: [modelId] });
  expect((await admin.listWorkspaceRuleVersions(ws.workspace_id)).map((v) => v.version)).toEqual([2, 1]);
  expect((await admin.getModel(modelId)).latest_file_scan?.severity_label).toBe("Alert");
});
