import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { removeDir, startTestService, tempDir, type TestService } from "./helpers.js";

let dir: string;
let ts: TestService;

beforeAll(async () => {
  dir = tempDir();
  const webDir = join(dir, "web");
  mkdirSync(join(webDir, "assets"), { recursive: true });
  writeFileSync(join(webDir, "index.html"), "<!doctype html><title>modelvet</title>");
  writeFileSync(join(webDir, "assets", "app.js"), "console.log(1)");
  ts = await startTestService({ dataDir: join(dir, "data"), hubUrl: "http://127.0.0.1:9", worker: false, webDir });
});

afterAll(async () => {
  await ts?.service.close();
  removeDir(dir);
});

test("the web UI is served at / with a fallback to index.html for client-side routes", async () => {
  const app = ts.service.app!;
  const index = await app.inject({ method: "GET", url: "/" });
  expect(index.statusCode).toBe(200);
  expect(index.body).toContain("<title>modelvet</title>");
  expect((await app.inject({ method: "GET", url: "/assets/app.js" })).body).toBe("console.log(1)");
  const deep = await app.inject({ method: "GET", url: "/workspaces/123/projects?tab=models" });
  expect(deep.statusCode).toBe(200);
  expect(deep.headers["content-type"]).toMatch(/text\/html/);
  // API paths never fall back to the page.
  const api = await app.inject({ method: "GET", url: "/api/v1/nothing-here" });
  expect(api.statusCode).toBe(404);
  expect(api.json()).toEqual({ error: "NotFound", message: expect.stringMatching(/no route/) as unknown });
  expect((await app.inject({ method: "POST", url: "/somewhere" })).statusCode).toBe(404);
});
