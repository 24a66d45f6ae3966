import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { FakeHub } from "../../engine/test/support/hub-server.js";
import { removeDir, startHub, startTestService, tempDir, type TestService } from "./helpers.js";

const run = promisify(execFile);
const anyString = (): unknown => expect.any(String) as unknown;
const redocly = join(dirname(createRequire(import.meta.url).resolve("@redocly/cli/package.json")), "bin", "cli.js");

let hub: FakeHub;
let dataDir: string;
let ts: TestService;
let document: { paths: Record<string, Record<string, { operationId?: string; summary?: string }>> };
let docText: string;

beforeAll(async () => {
  hub = await startHub();
  dataDir = tempDir();
  ts = await startTestService({ dataDir, hubUrl: hub.hubUrl });
  docText = (await ts.service.app!.inject({ method: "GET", url: "/openapi.json" })).body;
  document = JSON.parse(docText) as typeof document;
});
afterAll(async () => {
  await ts?.service.close();
  await hub?.stop();
  removeDir(dataDir);
});

test("every operation has a summary and a unique operationId", () => {
  const operations = Object.values(document.paths).flatMap((byMethod) => Object.values(byMethod));
  expect(operations.length).toBeGreaterThan(25);
  for (const op of operations) expect(op).toMatchObject({ summary: anyString(), operationId: anyString() });
  const ids = operations.map((op) => op.operationId);
  expect(new Set(ids).size).toBe(ids.length);
});

test("shapes are named component schemas, referenced from the operations", () => {
  const doc = JSON.parse(docText) as {
    components: { schemas: Record<string, { type?: string; properties?: Record<string, unknown> }> };
    paths: Record<
      string,
      Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>
    >;
  };
  const names = Object.keys(doc.components.schemas);
  for (const name of ["Error", "Workspace", "Project", "Model", "FileScan", "Integration", "ApiKey", "RuleDetail"])
    expect(names).toContain(name);
  for (const name of ["Webhook", "CreateWebhookBody", "WebhookDelivery"]) expect(names).toContain(name);
  const ok = (path: string, method: string) =>
    doc.paths[path]![method]!.responses["200"]!.content!["application/json"]!.schema;
  expect(ok("/api/v1/models/{model_id}", "get")).toEqual({ $ref: "#/components/schemas/Model" });
  expect(ok("/api/v1/rules/{rule_id}", "get")).toEqual({ $ref: "#/components/schemas/RuleDetail" });
  expect(ok("/api/v1/workspaces/{workspace_id}/webhooks/{webhook_id}", "get")).toEqual({
    $ref: "#/components/schemas/Webhook",
  });
  expect(JSON.stringify(ok("/api/v1/workspaces/{workspace_id}/webhooks/{webhook_id}/deliveries", "get"))).toContain(
    "#/components/schemas/WebhookDelivery",
  );
  // A shape nested in another is referenced too: a model's latest scan is the FileScan schema.
  expect(JSON.stringify(doc.components.schemas.Model)).toContain("#/components/schemas/FileScan");
  // Each named shape is written once, in components, not copied inline.
  for (const name of names) expect(docText.match(new RegExp(`"title":\\s*"${name}"`, "g"))).toHaveLength(1);
});

test("@redocly/cli lint with the recommended rules reports no error and no warning", async () => {
  const dir = mkdtempSync(join(tmpdir(), "modelvet-openapi-"));
  try {
    const file = join(dir, "openapi.json");
    writeFileSync(file, docText);
    const { stdout, stderr } = await run(
      process.execPath,
      [redocly, "lint", "--extends", "recommended", "--format", "json", file],
      {
        env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", NO_COLOR: "1" },
        timeout: 60_000,
      },
    ).catch((e: { stdout: string; stderr: string }) => e);
    const result = JSON.parse(stdout) as { totals: { errors: number; warnings: number }; problems: unknown[] };
    // The problems themselves are in the failure message when a rule trips.
    expect({ totals: result.totals, problems: result.problems }).toEqual({
      totals: expect.objectContaining({ errors: 0, warnings: 0 }) as unknown,
      problems: [],
    });
    expect(stderr).not.toMatch(/\berror\b/i);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 90_000);
