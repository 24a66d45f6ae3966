import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { FakeHub, smallFile, type RepoSpec } from "../../engine/test/support/hub-server.js";
import {
  ADMIN_KEY,
  fixture,
  httpClient,
  removeDir,
  startTestService,
  tempDir,
  waitUntil,
  type TestService,
} from "./helpers.js";

/**
 * Continuous scanning through the API against the test Hub: a followed model's new commit is scanned after a
 * poll and after a Hub webhook; unchanged files come from the inventory cache; the model shows its revisions.
 */
const C1 = "1".repeat(40);
const C2 = "2".repeat(40);
const C3 = "3".repeat(40);
/** A protocol-2 pickle of [1, 2]: Pass. */
const BENIGN = Buffer.from([0x80, 0x02, 0x5d, 0x28, 0x4b, 0x01, 0x4b, 0x02, 0x65, 0x2e]);
const big = (seed: number) => Buffer.concat([BENIGN.subarray(0, 3), Buffer.alloc(4000, seed), BENIGN.subarray(3)]);
const SECRET = "hook-secret-0123456789abcdef";

let hub: FakeHub;
let ts: TestService;
let dataDir: string;
let api: ReturnType<typeof httpClient>;
let base: string;
/** The Hub keeps these objects: moving `refs.main` is a push to main. */
const repos = new Map<string, RepoSpec>();

beforeAll(async () => {
  hub = new FakeHub();
  const kept = smallFile("kept.pkl", BENIGN, { lfs: true });
  for (const id of ["acme/polled", "acme/hooked"]) {
    repos.set(id, {
      id,
      refs: { main: C1 },
      commits: {
        [C1]: [kept, smallFile("config.json", Buffer.from("{}"))],
        [C2]: [
          kept,
          smallFile("config.json", Buffer.from("{}")),
          smallFile("new.pkl", fixture("adversarial/o6-inst.pkl"), { lfs: true }),
        ],
        [C3]: [kept, smallFile("other.pkl", big(7), { lfs: true })],
      },
    });
    hub.addRepo(repos.get(id)!);
  }
  await hub.start();
  dataDir = tempDir();
  ts = await startTestService({
    dataDir,
    hubUrl: hub.hubUrl,
    // The inventory cache on (it is on by default in production), and a quick poller.
    env: { MODELVET_CACHE: "on", MODELVET_FOLLOW: "on", MODELVET_FOLLOW_TICK_MS: "100" },
  });
  base = await ts.service.app!.listen({ port: 0, host: "127.0.0.1" });
  api = httpClient(base, ADMIN_KEY);
});

afterAll(async () => {
  await ts?.service.close();
  await hub?.stop();
  removeDir(dataDir);
});

async function setup(repo: string, settings: Record<string, unknown>) {
  const ws = await api("POST", "/workspaces", { name: repo });
  const wsId = ws.body.workspace_id as string;
  expect((await api("PATCH", `/workspaces/${wsId}/follow`, settings)).status).toBe(200);
  const project = await api("POST", "/projects", { name: "p", workspace_id: wsId });
  const model = await api("POST", `/projects/${String(project.body.project_id)}/models`, {
    name: "m",
    model_config: { hugging_face: { model_uri: repo } },
  });
  expect(model.status).toBe(201);
  return {
    wsId,
    projectId: project.body.project_id as string,
    modelId: model.body.model_id as string,
    model: model.body,
  };
}

const history = async (modelId: string) =>
  (await api("GET", `/models/${modelId}/file-scans`)).body.file_scans as Array<Record<string, unknown>>;

async function waitForScanOf(modelId: string, commit: string): Promise<Record<string, unknown>> {
  let scans: Array<Record<string, unknown>> = [];
  await waitUntil(
    async () =>
      (scans = await history(modelId)).some(
        (s) => s.revision === commit && ["succeeded", "failed"].includes(s.status as string),
      ),
    30_000,
    () => `a finished scan of ${commit}: ${JSON.stringify(scans.map((s) => [s.revision, s.status, s.error]))}`,
  );
  return scans.find((s) => s.revision === commit)!;
}

describe("following a branch", () => {
  test("a model on a branch follows it by default; one pinned to a commit does not", async () => {
    const { model, projectId } = await setup("acme/polled", { poll_interval_seconds: 604800 });
    expect((model.model_config as { hugging_face: { follow: boolean } }).hugging_face.follow).toBe(true);
    const pinned = await api("POST", `/projects/${projectId}/models`, {
      name: "pinned",
      model_config: { hugging_face: { model_uri: "acme/polled", revision: C1 } },
    });
    expect((pinned.body.model_config as { hugging_face: { follow: boolean } }).hugging_face.follow).toBe(false);
  });

  test("polling: a new commit on main is scanned, unchanged files come from the cache, the model shows both revisions", async () => {
    const { modelId, projectId } = await setup("acme/polled", { poll_interval_seconds: 1 });
    // The first look only records the commit: registering a model does not scan it.
    const first = await api("POST", "/file-scans", { model_id: modelId, project_id: projectId });
    expect(first.status).toBe(202);
    await waitUntil(
      async () => (await api("GET", `/file-scans/${String(first.body.file_scan_id)}`)).body.status === "succeeded",
      30_000,
      () => "the first scan",
    );

    hub.resetStats();
    moveMain("acme/polled", C2);
    const scan = await waitForScanOf(modelId, C2);
    expect(scan).toMatchObject({
      status: "succeeded",
      severity_label: "Alert",
      commit: C2,
      reason: "new commit (polling)",
    });
    const stats = (scan.result as { stats: { cached_files: number; files: number } }).stats;
    expect(stats.files).toBe(3);
    // kept.pkl did not change (same content id): not downloaded again; only new.pkl was.
    expect(stats.cached_files).toBeGreaterThanOrEqual(1);
    const keptOid = repos.get("acme/polled")!.commits[C1]![0]!.lfsOid!;
    expect(hub.stats.requests.filter((r) => r.origin === "storage" && r.url.includes(keptOid))).toHaveLength(0);
    expect(hub.stats.requests.some((r) => r.origin === "storage")).toBe(true);

    const model = (await api("GET", `/models/${modelId}`)).body;
    const revisions = model.revisions as Array<Record<string, unknown>>;
    expect(revisions.map((r) => [r.commit, r.severity_label])).toEqual([
      [C2, "Alert"],
      [C1, "Pass"],
    ]);
    expect(revisions[0]!.reason).toBe("new commit (polling)");

    // Unfollowed: the next commit is not scanned (checked through the webhook path below, which answers at once).
    const unfollowed = await api("PATCH", `/models/${modelId}`, { follow: false });
    expect(unfollowed.status).toBe(200);
    expect((unfollowed.body.model_config as { hugging_face: { follow: boolean } }).hugging_face.follow).toBe(false);
  });
});

describe("the Hub webhook", () => {
  test("a wrong or missing secret is 401 and queues nothing; a valid one queues one scan; a repeat queues none", async () => {
    const { wsId, modelId } = await setup("acme/hooked", { poll_interval_seconds: 604800, hook_secret: SECRET });
    const hook = (secret: string | undefined, body: unknown, ws = wsId) =>
      fetch(`${base}/api/v1/hooks/huggingface/${ws}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(secret !== undefined ? { "x-webhook-secret": secret } : {}),
        },
        body: JSON.stringify(body),
      });
    const event = (sha: string, extra: Record<string, unknown> = {}) => ({
      event: { action: "update", scope: "repo.content" },
      repo: { type: "model", name: "acme/hooked", headSha: sha },
      updatedRefs: [{ ref: "refs/heads/main", oldSha: C1, newSha: sha }],
      webhook: { id: "w1", version: 3 },
      ...extra,
    });
    // The poller's first look (it records C1 as the commit already there) happens before the push to main.
    await waitUntil(
      async () =>
        (
          await ts.service.db.kysely
            .selectFrom("models")
            .select("last_seen_sha")
            .where("id", "=", modelId)
            .executeTakeFirst()
        )?.last_seen_sha === C1,
      10_000,
      () => "the poller's first look",
    );
    moveMain("acme/hooked", C2);
    for (const [secret, ws] of [
      [undefined, wsId],
      ["wrong-secret-0123456789", wsId],
      [SECRET.slice(0, -1), wsId],
      [SECRET, "00000000-0000-4000-8000-000000000000"],
      [SECRET, "not-a-uuid"],
    ] as const) {
      const answer = await hook(secret, event(C2), ws);
      expect(answer.status, `${secret} ${ws}`).toBe(401);
    }
    expect(await history(modelId)).toHaveLength(0);

    const accepted = await hook(SECRET, event(C2));
    expect(accepted.status).toBe(202);
    const body = (await accepted.json()) as { queued: string[]; duplicate: boolean };
    expect(body.queued).toHaveLength(1);
    expect(body.duplicate).toBe(false);
    const again = (await (await hook(SECRET, event(C2))).json()) as { queued: string[]; duplicate: boolean };
    expect(again).toEqual({ queued: [], duplicate: true });
    // Another delivery about the same commit (a different body) queues nothing either: the commit is known.
    const other = (await (await hook(SECRET, event(C2, { webhook: { id: "w2", version: 3 } }))).json()) as {
      queued: string[];
    };
    expect(other.queued).toEqual([]);

    const scan = await waitForScanOf(modelId, C2);
    expect(scan).toMatchObject({
      file_scan_id: body.queued[0],
      status: "succeeded",
      commit: C2,
      reason: "new commit (webhook)",
    });
    expect(await history(modelId)).toHaveLength(1);

    // Events that are not repo content updates of a model are accepted and ignored.
    const ignored = (await (
      await hook(SECRET, {
        event: { action: "create", scope: "discussion" },
        repo: { type: "model", name: "acme/hooked" },
      })
    ).json()) as { queued: string[]; ignored?: string };
    expect(ignored.queued).toEqual([]);
    expect(ignored.ignored).toMatch(/discussion/);

    // An unfollowed model is not scanned on a new commit.
    expect((await api("PATCH", `/models/${modelId}`, { follow: false })).status).toBe(200);
    moveMain("acme/hooked", C3);
    const unfollowed = (await (await hook(SECRET, event(C3))).json()) as { queued: string[] };
    expect(unfollowed.queued).toEqual([]);
    expect(await history(modelId)).toHaveLength(1);

    // Settings show that a secret is set, never the secret.
    const settings = await api("GET", `/workspaces/${wsId}/follow`);
    expect(settings.body).toMatchObject({ hook_secret_set: true, poll_interval_seconds: 604800 });
    expect(settings.text).not.toContain(SECRET);
  });
});

function moveMain(id: string, sha: string): void {
  repos.get(id)!.refs!.main = sha;
}
