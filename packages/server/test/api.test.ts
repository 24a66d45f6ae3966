import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { FakeHub } from "../../engine/test/support/hub-server.js";
import {
  ADMIN_KEY,
  createPgDatabase,
  HUB_TOKEN,
  removeDir,
  startHub,
  startTestService,
  tempDir,
  type Answer,
  type TestService,
} from "./helpers.js";

const pgDb = await createPgDatabase();
const stores = [
  { name: "sqlite", databaseUrl: undefined },
  ...(pgDb ? [{ name: "postgres", databaseUrl: pgDb.url }] : []),
];
if (!pgDb) console.warn("PostgreSQL not reachable: the postgres half of the server suite is skipped");
afterAll(async () => pgDb?.drop());

type Body = Record<string, unknown>;
/** expect.any, typed as unknown (it returns any). */
const anyOf = (type: unknown): unknown => expect.any(type) as unknown;

describe.each(stores)("service API on $name", ({ databaseUrl }) => {
  let hub: FakeHub;
  let dataDir: string;
  let ts: TestService;
  /** Every response body, to prove no secret is ever in one. */
  const bodies: string[] = [];

  async function call(method: string, url: string, key: string | null, payload?: unknown): Promise<Answer> {
    const response = await ts.service.app!.inject({
      method: method as "GET",
      url,
      headers: key ? { authorization: `Bearer ${key}` } : {},
      ...(payload !== undefined ? { payload: payload as Body } : {}),
    });
    bodies.push(response.body);
    let body: Body = {};
    try {
      body = response.json<Body>();
    } catch {
      // not JSON (docs page)
    }
    return { status: response.statusCode, body, text: response.body };
  }
  const api = (method: string, path: string, key: string | null, payload?: unknown) =>
    call(method, `/api/v1${path}`, key, payload);

  async function waitForScan(id: string, key: string): Promise<Body> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const answer = await api("GET", `/file-scans/${id}?verbose=true`, key);
      expect(answer.status).toBe(200);
      if (answer.body.status === "succeeded" || answer.body.status === "failed") return answer.body;
      if (Date.now() > deadline) throw new Error(`scan ${id} still ${String(answer.body.status)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** A workspace with its own key, project, integration (holding the Hub token) and models. */
  async function makeWorkspace(name: string) {
    const ws = await api("POST", "/workspaces", ADMIN_KEY, { name });
    expect(ws.status).toBe(201);
    const workspaceId = ws.body.workspace_id as string;
    const key = await api("POST", `/workspaces/${workspaceId}/api-keys`, ADMIN_KEY, { name: "ci" });
    expect(key.status).toBe(201);
    expect(key.body.api_key).toMatch(/^mv_[A-Za-z0-9_-]{43}$/);
    const apiKey = key.body.api_key as string;
    const integration = await api("POST", `/workspaces/${workspaceId}/integrations`, apiKey, {
      name: "hub",
      integration_type: "CUSTOM",
      integration_schema: [
        { name: "HUGGINGFACE_API_TOKEN", sensitivity: "SECRET", value: HUB_TOKEN },
        { name: "ORG", sensitivity: "PUBLIC", value: "acme" },
      ],
    });
    expect(integration.status).toBe(201);
    const project = await api("POST", "/projects", apiKey, { name: "p", description: "d", workspace_id: workspaceId });
    expect(project.status).toBe(201);
    const projectId = project.body.project_id as string;
    const model = await api("POST", `/projects/${projectId}/models`, apiKey, {
      name: "payload",
      model_config: { hugging_face: { model_uri: "acme/payload" } },
    });
    expect(model.status).toBe(201);
    return {
      workspaceId,
      apiKey,
      projectId,
      integrationId: integration.body.integration_id as string,
      modelId: model.body.model_id as string,
    };
  }

  let a: Awaited<ReturnType<typeof makeWorkspace>>;
  let b: Awaited<ReturnType<typeof makeWorkspace>>;
  let bScanId: string;

  beforeAll(async () => {
    hub = await startHub();
    dataDir = tempDir();
    ts = await startTestService({ dataDir, hubUrl: hub.hubUrl, ...(databaseUrl ? { databaseUrl } : {}) });
    a = await makeWorkspace("A");
    b = await makeWorkspace("B");
  });

  afterAll(async () => {
    await ts?.service.close();
    await hub?.stop();
    removeDir(dataDir);
  });

  test("health, OpenAPI and docs are served", async () => {
    expect(ts.service.queue.kind).toBe(databaseUrl ? "pg-boss" : "embedded");
    expect((await call("GET", "/healthz", null)).body).toEqual({ status: "ok" });
    const openapi = await call("GET", "/openapi.json", null);
    expect(openapi.body.openapi).toBe("3.0.3");
    expect(Object.keys(openapi.body.paths as Body)).toContain("/api/v1/file-scans/{file_scan_id}");
    expect((await call("GET", "/docs/", null)).status).toBe(200);
    const rules = await api("GET", "/rules", a.apiKey);
    expect(rules.body).toMatchObject({ version: anyOf(String), rules: anyOf(Number) });
  });

  test("CRUD: workspaces, keys, integrations, projects, models", async () => {
    const list = await api("GET", "/workspaces", ADMIN_KEY);
    expect((list.body.workspaces as Body[]).map((w) => w.name)).toEqual(expect.arrayContaining(["A", "B"]));
    const own = await api("GET", "/workspaces", a.apiKey);
    expect(own.body.workspaces).toEqual([expect.objectContaining({ workspace_id: a.workspaceId, name: "A" })]);

    const integrations = await api("GET", `/workspaces/${a.workspaceId}/integrations`, a.apiKey);
    expect(integrations.body.integrations).toEqual([
      expect.objectContaining({
        integration_id: a.integrationId,
        integration_type: "CUSTOM",
        fields: [
          { name: "HUGGINGFACE_API_TOKEN", sensitivity: "SECRET" },
          { name: "ORG", sensitivity: "PUBLIC", value: "acme" },
        ],
      }),
    ]);

    const projects = await api("GET", `/workspaces/${a.workspaceId}/projects`, a.apiKey);
    expect(projects.body.projects).toEqual([expect.objectContaining({ project_id: a.projectId, description: "d" })]);
    const project = await api("GET", `/projects/${a.projectId}`, a.apiKey);
    expect(project.body.models_by_severity).toEqual(expect.objectContaining({ unscanned: anyOf(Number) }));

    const model = await api("GET", `/models/${a.modelId}`, a.apiKey);
    expect(model.body).toMatchObject({
      model_id: a.modelId,
      project_id: a.projectId,
      workspace_id: a.workspaceId,
      integration_id: null,
      model_config: { hugging_face: { model_uri: "acme/payload", revision: "main" } },
    });
    const models = await api("GET", `/projects/${a.projectId}/models`, a.apiKey);
    expect((models.body.models as Body[]).map((m) => m.model_id)).toContain(a.modelId);

    const summary = await api("GET", `/workspaces/${a.workspaceId}`, a.apiKey);
    expect(summary.body).toMatchObject({
      workspace_id: a.workspaceId,
      projects: [expect.objectContaining({ project_id: a.projectId, models: anyOf(Number) })],
      integrations: [expect.objectContaining({ integration_id: a.integrationId })],
    });
    expect((await api("POST", "/workspaces", a.apiKey, { name: "not allowed" })).status).toBe(403);
  });

  test("full flow: a public payload model scans to Alert with os.system", async () => {
    const started = await api("POST", "/file-scans", a.apiKey, { model_id: a.modelId, project_id: a.projectId });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ status: "queued", model_id: a.modelId });
    expect(started.body.job_id).toBe(started.body.file_scan_id);
    const done = await waitForScan(started.body.file_scan_id as string, a.apiKey);
    expect(done).toMatchObject({ status: "succeeded", severity: 3, severity_label: "Alert", error: null });
    expect(done).toMatchObject({ commit: "a".repeat(40), rules_outdated: false });
    const result = done.result as { file_security_reports: Array<{ unsafe_dependencies: Body[] }> };
    const deps = result.file_security_reports.flatMap((r) => r.unsafe_dependencies);
    expect(deps.map((d) => `${String(d.module)}.${String(d.name)}`)).toContain("os.system");
    expect((done.progress as Body).files_done).toBe(1);

    const model = await api("GET", `/models/${a.modelId}`, a.apiKey);
    expect(model.body.latest_file_scan).toMatchObject({ file_scan_id: done.file_scan_id, severity_label: "Alert" });
    const history = await api("GET", `/models/${a.modelId}/file-scans`, a.apiKey);
    expect((history.body.file_scans as Body[])[0]).toMatchObject({
      file_scan_id: done.file_scan_id,
      result: anyOf(Object),
    });
    const project = await api("GET", `/projects/${a.projectId}`, a.apiKey);
    expect(project.body.models_by_severity).toMatchObject({ alert: 1 });
    const brief = await api("GET", `/file-scans/${String(done.file_scan_id)}`, a.apiKey);
    expect(brief.body.result).toBeUndefined();
  });

  test("a private model scans through an integration holding its token", async () => {
    const model = await api("POST", `/projects/${b.projectId}/models`, b.apiKey, {
      name: "private",
      model_config: { hugging_face: { model_uri: "acme/private", revision: "main" } },
      integration_id: b.integrationId,
    });
    expect(model.status).toBe(201);
    const started = await api("POST", "/file-scans", b.apiKey, {
      model_id: model.body.model_id,
      project_id: b.projectId,
      ram_request_megabytes: 512,
    });
    expect(started.status).toBe(202);
    bScanId = started.body.file_scan_id as string;
    const done = await waitForScan(bScanId, b.apiKey);
    expect(done).toMatchObject({ status: "succeeded", severity_label: "Alert", ram_request_megabytes: 512 });
    const authorised = hub.stats.requests.filter((r) => r.url.includes("acme/private") && r.auth);
    expect(authorised.length).toBeGreaterThan(0);
  });

  test("failures carry a reason a person can act on", async () => {
    const noToken = await api("POST", `/projects/${b.projectId}/models`, b.apiKey, {
      name: "private without token",
      model_config: { hugging_face: { model_uri: "acme/private" } },
    });
    const gone = await api("POST", `/projects/${b.projectId}/models`, b.apiKey, {
      name: "gone",
      model_config: { hugging_face: { model_uri: "acme/payload", revision: "no-such-branch" } },
    });
    const reasons: string[] = [];
    // The operator's own token must never stand in for a model without an integration (one workspace could
    // otherwise read private repos through it): the server process holds the repo's valid token meanwhile.
    const operatorToken = process.env.HF_TOKEN;
    process.env.HF_TOKEN = HUB_TOKEN;
    try {
      for (const model of [noToken, gone]) {
        const started = await api("POST", "/file-scans", b.apiKey, {
          model_id: model.body.model_id,
          project_id: b.projectId,
        });
        const done = await waitForScan(started.body.file_scan_id as string, b.apiKey);
        expect(done.status).toBe("failed");
        reasons.push(String(done.error));
      }
    } finally {
      if (operatorToken === undefined) delete process.env.HF_TOKEN;
      else process.env.HF_TOKEN = operatorToken;
    }
    expect(reasons[0]).toMatch(/acme\/private.*401.*integration holding a HUGGINGFACE_API_TOKEN/);
    expect(reasons[1]).toMatch(/not found \(HTTP 404\)/);
  });

  test("rejudge: an outdated result is judged again from stored inventories without reading the model", async () => {
    const db = ts.service.db.kysely;
    // Pretend an older rules pack judged it, and differently.
    const row = await db.selectFrom("file_scans").select("result").where("id", "=", bScanId).executeTakeFirstOrThrow();
    const old = { ...(JSON.parse(row.result!) as Body), rules_version: "0.0.1", severity: 1, severity_label: "Pass" };
    await db
      .updateTable("file_scans")
      .set({ rules_version: "0.0.1", severity: 1, result: JSON.stringify(old) })
      .where("id", "=", bScanId)
      .execute();
    const outdated = await api("GET", `/file-scans/${bScanId}`, b.apiKey);
    expect(outdated.body).toMatchObject({ rules_outdated: true, rules_version: "0.0.1", severity_label: "Pass" });

    hub.resetStats();
    const rejudged = await api("POST", `/file-scans/${bScanId}/rejudge`, b.apiKey);
    expect(rejudged.status).toBe(200);
    expect(rejudged.body).toMatchObject({ rules_outdated: false, severity: 3, severity_label: "Alert" });
    expect((rejudged.body.result as Body).rules_version).toBe(rejudged.body.rules_version);
    expect(hub.stats.requests).toHaveLength(0);
  });

  test("security: a key of workspace A gets 404 for anything of workspace B", async () => {
    const k = a.apiKey;
    const reads = [
      ["GET", `/workspaces/${b.workspaceId}`],
      ["GET", `/workspaces/${b.workspaceId}/projects`],
      ["GET", `/workspaces/${b.workspaceId}/integrations`],
      ["GET", `/projects/${b.projectId}`],
      ["GET", `/projects/${b.projectId}/models`],
      ["GET", `/models/${b.modelId}`],
      ["GET", `/models/${b.modelId}/file-scans`],
      ["GET", `/file-scans/${bScanId}`],
      ["GET", `/file-scans/${bScanId}?verbose=true`],
      ["POST", `/file-scans/${bScanId}/rejudge`],
    ];
    for (const [method, path] of reads) {
      const answer = await api(method!, path!, k);
      expect({ path, status: answer.status }).toEqual({ path, status: 404 });
      expect(answer.body).toEqual({ error: "NotFound", message: anyOf(String) });
    }
    const writes: Array<[string, Body]> = [
      [`/workspaces/${b.workspaceId}/api-keys`, { name: "steal" }],
      [`/workspaces/${b.workspaceId}/integrations`, { name: "x", integration_type: "CUSTOM", integration_schema: [] }],
      ["/projects", { name: "x", workspace_id: b.workspaceId }],
      [`/projects/${b.projectId}/models`, { name: "x", model_config: { hugging_face: { model_uri: "acme/payload" } } }],
      ["/file-scans", { model_id: b.modelId, project_id: b.projectId }],
      // A's project with B's integration: the integration is as invisible as everything else of B.
      [
        `/projects/${a.projectId}/models`,
        { name: "x", model_config: { hugging_face: { model_uri: "acme/private" } }, integration_id: b.integrationId },
      ],
    ];
    for (const [path, payload] of writes) {
      const answer = await api("POST", path, k, payload);
      expect({ path, status: answer.status }).toEqual({ path, status: 404 });
    }
    // The same as an id that does not exist.
    const missing = await api("GET", `/models/${crypto.randomUUID()}`, k);
    expect(missing.status).toBe(404);
    const listed = await api("GET", "/workspaces", k);
    expect(JSON.stringify(listed.body)).not.toContain(b.workspaceId);
  });

  test("bad input answers 4xx with a message", async () => {
    const k = a.apiKey;
    const cases: Array<[Answer, number, RegExp]> = [
      [await api("POST", "/workspaces", ADMIN_KEY, { name: "x", extra: 1 }), 400, /unknown field "extra"/],
      [await api("GET", "/models/not-a-uuid", k), 400, /must be an id \(a UUID\)/],
      [await api("POST", "/projects", k, { name: "x" }), 400, /needs the field "workspace_id"/],
      [await api("POST", "/workspaces", ADMIN_KEY, { name: 5 }), 400, /body.name must be string/],
      [
        await api("POST", "/file-scans", k, { model_id: a.modelId, project_id: a.projectId, ram_request_megabytes: 1 }),
        400,
        /ram_request_megabytes/,
      ],
      [
        await api("POST", `/projects/${a.projectId}/models`, k, {
          name: "x",
          model_config: { hugging_face: { model_uri: "../etc" } },
        }),
        400,
        /model_uri/,
      ],
      [await api("POST", "/workspaces", ADMIN_KEY, { name: "x".repeat(2 * 1024 * 1024) }), 413, /larger than 1 MiB/],
      [await api("GET", "/workspaces", null), 401, /Authorization: Bearer/],
      [await api("GET", "/workspaces", "mv_unknown"), 401, /unknown API key/],
      [await api("GET", "/no-such-route", k), 404, /no route/],
    ];
    for (const [answer, status, message] of cases) {
      expect(answer.status).toBe(status);
      expect(answer.body.error).toEqual(anyOf(String));
      expect(answer.body.message).toMatch(message);
    }
    const malformed = await ts.service.app!.inject({
      method: "POST",
      url: "/api/v1/workspaces",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      payload: "{not json",
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json<Body>().message).toEqual(anyOf(String));
  });

  test("the integration secret never appears in a response or a log line", async () => {
    // One more attempt to get it echoed: a rejected body that contains it.
    await api("POST", `/workspaces/${a.workspaceId}/integrations`, a.apiKey, {
      name: "x",
      integration_type: "CUSTOM",
      integration_schema: [{ name: "HF_TOKEN", sensitivity: "SECRET", value: HUB_TOKEN, oops: true }],
    });
    expect(bodies.length).toBeGreaterThan(30);
    for (const body of bodies) expect(body).not.toContain(HUB_TOKEN);
    expect(ts.logs.lines.length).toBeGreaterThan(10);
    expect(ts.logs.text).not.toContain(HUB_TOKEN);
    expect(ts.logs.text).not.toContain(a.apiKey);
    expect(ts.logs.text).not.toContain(ADMIN_KEY);
    // Stored only encrypted.
    const rows = await ts.service.db.kysely.selectFrom("integrations").select("fields").execute();
    for (const row of rows) expect(row.fields).not.toContain(HUB_TOKEN);
  });
});
