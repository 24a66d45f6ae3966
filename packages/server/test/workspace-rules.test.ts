import { afterAll, beforeAll, expect, test } from "vitest";
import type { FakeHub } from "../../engine/test/support/hub-server.js";
import {
  ADMIN_KEY,
  httpClient,
  registerPayloadModel,
  removeDir,
  startHub,
  startTestService,
  tempDir,
  waitUntil,
  type TestService,
} from "./helpers.js";

/** Workspace custom rules through the API: validated like `--rules FILE`, versioned, re-judging without reads. */
let hub: FakeHub;
let ts: TestService;
let dataDir: string;
let api: ReturnType<typeof httpClient>;
let base: string;

beforeAll(async () => {
  hub = await startHub();
  dataDir = tempDir();
  ts = await startTestService({ dataDir, hubUrl: hub.hubUrl });
  base = await ts.service.app!.listen({ port: 0, host: "127.0.0.1" });
  api = httpClient(base, ADMIN_KEY);
});

afterAll(async () => {
  await ts?.service.close();
  await hub?.stop();
  removeDir(dataDir);
});

/** Lowers the payload's os.system import from Alert to Warning (an exact rule wins over the pack's os.* rule). */
const LOWER = {
  description: "reviewed: this model's shell call is known",
  rules: [{ id: "ws.os-system", match: "os.system", severity: 2, reason: "reviewed in ticket 42" }],
};

async function scanned(modelId: string, projectId: string) {
  const started = await api("POST", "/file-scans", { model_id: modelId, project_id: projectId });
  const id = started.body.file_scan_id as string;
  let scan: Record<string, unknown> = {};
  await waitUntil(
    async () =>
      ["succeeded", "failed"].includes(
        (scan = (await api("GET", `/file-scans/${id}?verbose=true`)).body).status as string,
      ),
    30_000,
    () => JSON.stringify(scan),
  );
  return scan;
}

test("a rules change re-judges the latest result without reading the Hub, recorded as a new result", async () => {
  const { projectId, modelId } = await registerPayloadModel(api);
  const wsId = (await api("GET", `/models/${modelId}`)).body.workspace_id as string;
  const packVersion = (await api("GET", "/rules")).body.version as string;

  const before = await scanned(modelId, projectId);
  expect(before).toMatchObject({ status: "succeeded", severity_label: "Alert", rules_version: packVersion });

  const empty = await api("GET", `/workspaces/${wsId}/rules`);
  expect(empty.body).toMatchObject({ version: 0, rules: null, rules_version: packVersion });

  hub.resetStats();
  const put = await api("PUT", `/workspaces/${wsId}/rules`, LOWER);
  expect(put.status, put.text).toBe(200);
  expect(put.body).toMatchObject({ version: 1, rejudged: 1, changed_models: [modelId] });
  expect(put.body.rules_version).toBe(`${packVersion}+workspace-rules-v1.json`);
  expect(hub.stats.requests).toHaveLength(0);

  const history = (await api("GET", `/models/${modelId}/file-scans`)).body.file_scans as Array<Record<string, unknown>>;
  expect(history.map((s) => [s.severity_label, s.reason])).toEqual([
    ["Warning", "rules change"],
    ["Alert", null],
  ]);
  expect(history[0]).toMatchObject({
    rules_version: put.body.rules_version,
    rules_outdated: false,
    commit: before.commit,
  });
  const model = (await api("GET", `/models/${modelId}`)).body;
  expect((model.latest_file_scan as Record<string, unknown>).severity_label).toBe("Warning");

  // Saving the same rules again is a new version; the result is judged again but does not change.
  const same = await api("PUT", `/workspaces/${wsId}/rules`, LOWER);
  expect(same.body).toMatchObject({ version: 2, rejudged: 1, changed_models: [] });

  // New scans of the workspace are judged with its rules.
  const fresh = await scanned(modelId, projectId);
  expect(fresh).toMatchObject({ severity_label: "Warning", rules_version: `${packVersion}+workspace-rules-v2.json` });

  // Cleared: back to the pack alone, recorded as another rules change.
  const cleared = await api("DELETE", `/workspaces/${wsId}/rules`);
  expect(cleared.body).toMatchObject({
    version: 3,
    rules: null,
    rules_version: packVersion,
    changed_models: [modelId],
  });
  const latest = (await api("GET", `/models/${modelId}`)).body.latest_file_scan as Record<string, unknown>;
  expect(latest).toMatchObject({ severity_label: "Alert", reason: "rules change" });

  const versions = (await api("GET", `/workspaces/${wsId}/rules/versions`)).body.versions as Array<
    Record<string, unknown>
  >;
  expect(versions.map((v) => [v.version, v.rules === null])).toEqual([
    [3, true],
    [2, false],
    [1, false],
  ]);
  expect(versions.every((v) => typeof v.created_by === "string" && typeof v.created_at === "string")).toBe(true);
});

test("a rules file the CLI would refuse is a 400 naming the problem, and no version is stored", async () => {
  const ws = await api("POST", "/workspaces", { name: "bad-rules" });
  const wsId = ws.body.workspace_id as string;
  for (const bad of [
    {},
    { rules: [{ id: "x", match: "os.system", severity: 5, reason: "r" }] },
    { rules: [{ id: "x", match: "os.system", severity: 1 }] },
    { unknown_key: true },
    { rules: [{ id: "x", match: "os.*", severity: 1, reason: "allow must be exact" }] },
  ]) {
    const answer = await api("PUT", `/workspaces/${wsId}/rules`, bad);
    expect(answer.status, JSON.stringify(bad)).toBe(400);
    expect(answer.body.message as string, JSON.stringify(bad)).toMatch(/\$|rule|allow|exact/i);
    expect(answer.text).not.toMatch(/modelvet-rules-/);
  }
  expect((await api("GET", `/workspaces/${wsId}/rules`)).body.version).toBe(0);
});

test("a workspace key cannot read or change another workspace's rules", async () => {
  const a = await api("POST", "/workspaces", { name: "a" });
  const b = await api("POST", "/workspaces", { name: "b" });
  const keyA = await api("POST", `/workspaces/${String(a.body.workspace_id)}/api-keys`, { name: "k" });
  const asA = httpClient(base, keyA.body.api_key as string);
  const other = `/workspaces/${String(b.body.workspace_id)}/rules`;
  expect((await asA("GET", other)).status).toBe(404);
  expect((await asA("PUT", other, LOWER)).status).toBe(404);
  expect((await asA("DELETE", other)).status).toBe(404);
  expect((await api("GET", other)).body.version).toBe(0);
  expect((await asA("PUT", `/workspaces/${String(a.body.workspace_id)}/rules`, LOWER)).status).toBe(200);
});

test("a server start with another rules pack re-judges latest results from stored inventories, no Hub reads", async () => {
  const dir = tempDir();
  try {
    let service = await startTestService({ dataDir: dir, hubUrl: hub.hubUrl });
    let client = httpClient(await service.service.app!.listen({ port: 0, host: "127.0.0.1" }), ADMIN_KEY);
    const { projectId, modelId } = await registerPayloadModel(client);
    const started = await client("POST", "/file-scans", { model_id: modelId, project_id: projectId });
    const id = started.body.file_scan_id as string;
    await waitUntil(
      async () => (await client("GET", `/file-scans/${id}`)).body.status === "succeeded",
      30_000,
      () => id,
    );
    // As if an older release had judged it: the stored result names another pack.
    await service.service.db.kysely
      .updateTable("file_scans")
      .set({ rules_version: "2000.01.01" })
      .where("id", "=", id)
      .execute();
    expect((await client("GET", `/file-scans/${id}`)).body.rules_outdated).toBe(true);
    await service.service.close();

    hub.resetStats();
    service = await startTestService({ dataDir: dir, hubUrl: hub.hubUrl });
    client = httpClient(await service.service.app!.listen({ port: 0, host: "127.0.0.1" }), ADMIN_KEY);
    const pack = (await client("GET", "/rules")).body.version as string;
    await waitUntil(
      async () => (await client("GET", `/file-scans/${id}`)).body.rules_version === pack,
      20_000,
      () => "the stored result judged again",
    );
    const scan = (await client("GET", `/file-scans/${id}`)).body;
    expect(scan).toMatchObject({ rules_outdated: false, severity_label: "Alert" });
    // Same severity: updated in place, no new result; nothing read from the Hub.
    expect(((await client("GET", `/models/${modelId}/file-scans`)).body.file_scans as unknown[]).length).toBe(1);
    expect(hub.stats.requests).toHaveLength(0);
    await service.service.close();
  } finally {
    removeDir(dir);
  }
});
