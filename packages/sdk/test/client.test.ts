import { createServer as createTcpServer, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, ModelvetError, ModelvetTimeoutError, normaliseDomain } from "../src/index.js";
import { FakeApi } from "./support/fake-api.js";

// Edge cases against an in-memory fake of the API; the full flow runs against the real server in sdk.test.ts.
const KEY = "mv_test_key";
const api = new FakeApi(KEY);
let client: Client;

beforeAll(async () => {
  await api.start();
  client = new Client({ domain: api.url, apiKey: KEY });
});
afterAll(() => api.stop());

async function registeredModel(): Promise<{ projectId: string; modelId: string }> {
  const ws = await client.createWorkspace("ws");
  const project = await client.createProject("p", "d", ws.workspace_id);
  return {
    projectId: project.project_id,
    modelId: await project.registerModel("m", { hugging_face: { model_uri: "o/r" } }),
  };
}

async function rejection(promise: Promise<unknown>): Promise<ModelvetError> {
  const e = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ModelvetError);
  return e as ModelvetError;
}

describe("construction", () => {
  it("normalises the domain", () => {
    expect(normaliseDomain("http://localhost:8080/")).toBe("http://localhost:8080");
    expect(normaliseDomain("http://h:1/api/v1/")).toBe("http://h:1");
    expect(normaliseDomain("localhost:8080")).toBe("http://localhost:8080");
    expect(normaliseDomain("modelvet.example.com")).toBe("https://modelvet.example.com");
    expect(() => normaliseDomain("ftp://x")).toThrow(/http/);
    expect(() => new Client({ domain: api.url, apiKey: "" })).toThrow(/apiKey/);
  });

  it("keeps the key out of inspection and JSON", () => {
    expect(inspect(client, { showHidden: true, depth: 5 })).not.toContain(KEY);
    expect(JSON.stringify(client)).not.toContain(KEY);
  });
});

describe("calls", () => {
  it("sends the key and JSON bodies, and maps integration spellings", async () => {
    const ws = await client.createWorkspace("ws");
    expect(api.last.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(api.last.headers["content-type"]).toBe("application/json");
    const id = await client.createIntegration(ws.workspace_id, "hf", "INTEGRATION_TYPE_CUSTOM", [
      { name: "HUGGINGFACE_API_TOKEN", sensitivity: "VARIABLE_SENSITIVITY_WORKSPACE_SECRET", value: "hf_x" },
      { name: "NOTE", sensitivity: "public", value: "n" },
    ]);
    expect(typeof id).toBe("string");
    expect(api.last.body).toEqual({
      name: "hf",
      integration_type: "CUSTOM",
      integration_schema: [
        { name: "HUGGINGFACE_API_TOKEN", sensitivity: "SECRET", value: "hf_x" },
        { name: "NOTE", sensitivity: "PUBLIC", value: "n" },
      ],
    });
  });

  it("refuses bad arguments locally, without echoing values", async () => {
    await expect(client.createIntegration("w", "hf", "AWS")).rejects.toThrow(/integrationType/);
    const bad = client.createIntegration("w", "hf", "CUSTOM", [
      { name: "T", sensitivity: "hf_oops", value: "hf_oops" },
    ]);
    await expect(bad).rejects.toThrow(/SECRET or PUBLIC/);
    await expect(bad).rejects.not.toThrow(/hf_oops/);
    await expect(client.registerModel("p", "m", { hugging_face: { model_uri: "" } })).rejects.toThrow(/model_uri/);
    await expect(client.startFileScan("m", "p", 0)).rejects.toThrow(/ramRequestMegabytes/);
    await expect(client.getModel("")).rejects.toThrow(/modelId/);
  });

  it("keeps an id one path segment", async () => {
    await rejection(client.getModel("../workspaces"));
    expect(api.last.path).toBe("/api/v1/models/..%2Fworkspaces");
  });

  it("lifts the report to the top of a result, and lists results", async () => {
    const { projectId, modelId } = await registeredModel();
    const job = await client.startFileScan(modelId, projectId, 256);
    expect(api.last.body).toEqual({ model_id: modelId, project_id: projectId, ram_request_megabytes: 256 });
    expect(job.started.status).toBe("queued");
    const early = await client.getFileScanResult(job.job_id);
    expect(early.status).toBe("running");
    expect(early.file_security_reports).toBeUndefined();
    const done = await job.getStatus({ waitUntilFinish: true, pollRateSec: 0.01 });
    expect(done.status).toBe("succeeded");
    expect(done.result).toBeUndefined();
    const result = await client.getFileScanResult(job.job_id);
    expect(result.severity).toBe(3);
    expect(result.file_security_reports?.[0]?.unsafe_dependencies[0]).toMatchObject({ module: "os", name: "system" });
    expect(result.severity_label).toBe("Alert");
    expect("result" in result).toBe(false);
    const list = await client.listFileScanResults(modelId);
    expect(list.map((r) => r.file_scan_id)).toEqual([job.job_id]);
    expect(list[0]?.file_security_reports?.[0]?.path).toBe("pytorch_model.bin");
    expect((await client.getJob(job.job_id)).job_id).toBe(job.job_id);
  });
});

describe("waiting", () => {
  it("is bounded by timeoutSec", async () => {
    api.pollsUntilDone = 1e9;
    try {
      const { projectId, modelId } = await registeredModel();
      const job = await client.startFileScan(modelId, projectId);
      const began = Date.now();
      const e = await rejection(job.getStatus({ waitUntilFinish: true, pollRateSec: 0.05, timeoutSec: 0.3 }));
      expect(e).toBeInstanceOf(ModelvetTimeoutError);
      expect(e.message).toMatch(/did not finish within 0.3 s \(last status: running\)/);
      expect(Date.now() - began).toBeLessThan(2000);
    } finally {
      api.pollsUntilDone = 2;
    }
  });

  it("rides out a restarting server but not a 404", async () => {
    const { projectId, modelId } = await registeredModel();
    const job = await client.startFileScan(modelId, projectId);
    const route = `/api/v1/file-scans/${job.job_id}`;
    const unavailable: [number, unknown] = [503, { error: "Unavailable", message: "Restarting." }];
    api.script.set(route, [unavailable, unavailable]);
    expect((await job.getStatus({ waitUntilFinish: true, pollRateSec: 0.01 })).status).toBe("succeeded");
    api.script.set(route, [unavailable]);
    expect((await rejection(job.getStatus())).status).toBe(503);
    api.script.set(route, [[404, { error: "NotFound", message: "No such file scan." }]]);
    expect((await rejection(job.getStatus({ waitUntilFinish: true, pollRateSec: 0.01 }))).status).toBe(404);
  });
});

describe("errors", () => {
  it("carries the status, code and the server's sentence", async () => {
    const e = await rejection(client.getWorkspace("00000000-0000-0000-0000-000000000000"));
    expect([e.status, e.code]).toEqual([404, "NotFound"]);
    expect(e.reason).toMatch(/^No such object/);
    expect(e.message).toMatch(/^404 NotFound: No such object/);
  });

  it("never puts the key in a message, even when the server echoes it", async () => {
    const wrong = "mv_wrong_key_value";
    api.script.set("/api/v1/workspaces", [[401, { error: "Unauthorized", message: `Unknown key ${wrong}.` }]]);
    const e = await rejection(new Client({ domain: api.url, apiKey: wrong }).listWorkspaces());
    expect(e.status).toBe(401);
    expect(`${e.message} ${e.reason} ${inspect(e)}`).not.toContain(wrong);
  });

  it("explains a non-JSON error and refuses to follow a redirect", async () => {
    api.script.set("/api/v1/workspaces", [
      [502, "<html>bad gateway</html>"],
      [302, {}],
    ]);
    const e = await rejection(client.listWorkspaces());
    expect([e.status, e.code]).toEqual([502, undefined]);
    expect(e.reason).toMatch(/HTTP 502/);
    expect((await rejection(client.listWorkspaces())).reason).toMatch(/redirect/);
  });

  it("reports an unreachable server and a silent one", async () => {
    const silent: Server = createTcpServer(() => {}); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      const e = await rejection(
        new Client({ domain: `http://127.0.0.1:${port}`, apiKey: KEY, timeoutMs: 300 }).getRules(),
      );
      expect(e).toBeInstanceOf(ModelvetTimeoutError);
    } finally {
      silent.close();
    }
    const e = await rejection(new Client({ domain: `http://127.0.0.1:${port}`, apiKey: KEY }).getRules());
    expect(e.status).toBeUndefined();
    expect(e.message).toMatch(/could not reach/);
    expect(e.message).not.toContain(KEY);
  });
});
