/// <reference types="node" />
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeHub, smallFile } from "../../engine/test/support/hub-server.js";
import { CHROMIUM, hasChromium, launchSignedIn, screenshots, WEB_DIST, type Browser } from "./support/browser.js";
import { ROOT, serve, type Served } from "./support/serve.js";

// The workspace page's webhooks section against the real server (loopback receiver allowed by the operator
// setting) in Debian's Chromium: add a webhook, see a refused URL's reason, watch a delivery land, delete it.
const API_KEY = "mv_webhooks_ui_key_0123456789abcdefghijklmnopqrstu";
const SECRET = "ui-webhook-secret-0123456789";
const SHA = "e1".repeat(20);
const ready = hasChromium && existsSync(join(WEB_DIST, "index.html"));
if (!hasChromium) console.warn(`web webhook tests skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);

describe.skipIf(!ready)("web UI: a workspace's webhooks (real server, test Hub, Chromium)", () => {
  const hub = new FakeHub();
  let server: Served;
  let browser: Browser;
  let page: Page;
  let receiver: Server;
  let receiverUrl = "";
  const received: string[] = [];

  async function call(method: string, path: string, body?: unknown) {
    const response = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${API_KEY}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    return (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  }

  beforeAll(async () => {
    const payload = await readFile(join(ROOT, "packages/engine/test/fixtures/adversarial/o6-inst.pkl"));
    hub.addRepo({ id: "acme/hooked", refs: { main: SHA }, commits: { [SHA]: [smallFile("model.pkl", payload)] } });
    await hub.start();
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        received.push(body);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    server = await serve(hub.hubUrl, API_KEY, { MODELVET_WEBHOOKS_ALLOW_PRIVATE: "1" });
    browser = await launchSignedIn(server.url, API_KEY);
    page = browser.page;
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await hub.stop();
    await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  });

  it("adds a webhook, explains a refused URL, lists its deliveries and deletes it", async () => {
    const workspaceId = (await call("POST", "/workspaces", { name: "Hooks" })).workspace_id as string;
    await page.goto(`${server.url}/workspaces/${workspaceId}`);
    const section = page
      .getByRole("region", { name: "Webhooks" })
      .or(page.locator("section[aria-labelledby=webhooks]"));
    await section.getByText("No webhooks yet.").waitFor();

    const form = page.getByRole("form", { name: "Add a webhook" });
    await form.getByLabel("Webhook URL").fill("ftp://example.com/x");
    await form.getByLabel("Signing secret").fill(SECRET);
    await form.getByRole("button", { name: "Add webhook" }).click();
    await page.getByText("a webhook URL must be http or https").waitFor();

    await form.getByLabel("Webhook URL").fill(receiverUrl);
    await form.getByLabel("What it is for (optional)").fill("security channel");
    await form.getByRole("button", { name: "Add webhook" }).click();
    await section.getByRole("heading", { name: receiverUrl }).waitFor();
    await section.getByText("Nothing sent yet.").waitFor();
    expect(await page.content()).not.toContain(SECRET);

    const projectId = (await call("POST", "/projects", { name: "p", workspace_id: workspaceId })).project_id as string;
    const model = await call("POST", `/projects/${projectId}/models`, {
      name: "hooked",
      model_config: { hugging_face: { model_uri: "acme/hooked" } },
    });
    await call("POST", "/file-scans", { model_id: model.model_id, project_id: projectId });
    await expect.poll(() => received.length, { timeout: 30_000 }).toBe(1);
    await page.reload();
    const table = page.getByRole("table", { name: "Recent deliveries, newest first" });
    await table.getByRole("rowheader", { name: "alert" }).waitFor();
    expect(await table.getByRole("row").nth(1).textContent()).toMatch(/alert\s*delivered\s*1\s*HTTP 200/);
    await screenshots(page, "workspace-webhooks");

    await section.getByRole("button", { name: `Delete webhook ${receiverUrl}` }).click();
    await section.getByText("No webhooks yet.").waitFor();
    expect((await call("GET", `/workspaces/${workspaceId}/webhooks`)).webhooks).toEqual([]);
  }, 90_000);
});
