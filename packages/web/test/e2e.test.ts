/// <reference types="node" />
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeHub, smallFile } from "../../engine/test/support/hub-server.js";
import { CHROMIUM, hasChromium, launch, screenshots, WEB_DIST, type Browser } from "./support/browser.js";
import { ROOT, serve, type Served } from "./support/serve.js";

// End to end, as a person uses `npm start`: the real server (`modelvet serve`, embedded SQLite and queue) serving the
// built UI, scanning repositories of a Hub-compatible test server, driven in Debian's Chromium.
const FIXTURES = join(ROOT, "packages/engine/test/fixtures/adversarial");
const API_KEY = "mv_e2e_bootstrap_key_0123456789abcdefghijklmnopqrstuv";
const HUB_TOKEN = "hf_e2e_private_token";
const COMMIT = "e2e0000000000000000000000000000000000001";

const ready = hasChromium && existsSync(join(WEB_DIST, "index.html"));
if (!hasChromium) console.warn(`web e2e skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);
else if (!ready) console.warn("web e2e skipped: packages/web/dist is missing (npm run build -w packages/web)");

describe.skipIf(!ready)("web UI end to end (real server, test Hub, Chromium)", () => {
  const hub = new FakeHub();
  let server: Served | undefined;
  let baseUrl = "";
  let browser: Browser;

  beforeAll(async () => {
    // The payload repository is private, so the scan only works if the integration's token reaches the Hub.
    hub.addRepo({
      id: "acme/payload",
      private: true,
      token: HUB_TOKEN,
      refs: { main: COMMIT },
      commits: { [COMMIT]: [smallFile("model.pkl", await readFile(join(FIXTURES, "o6-inst.pkl")), { lfs: true })] },
    });
    hub.addRepo({
      id: "acme/benign",
      refs: { main: COMMIT },
      commits: { [COMMIT]: [smallFile("model.pkl", await readFile(join(FIXTURES, "copyreg-reconstructor-p2.pkl")))] },
    });
    await hub.start();

    server = await serve(hub.hubUrl, API_KEY);
    baseUrl = server.url;
    browser = await launch();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await hub.stop();
  });

  it("signs in with the API key", async () => {
    const { page } = browser;
    await page.goto(baseUrl);
    // Not signed in: any page leads to sign-in.
    await page.getByLabel("API key").waitFor();
    await screenshots(page, "sign-in");
    await page.getByLabel("API key").fill(API_KEY);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Workspaces" }).waitFor();
  });

  it("creates a workspace, an integration with a secret and a project", async () => {
    const { page } = browser;
    await page.getByLabel("Workspace name").fill("Security review");
    await page.getByRole("button", { name: "Create workspace" }).click();
    await page.getByRole("heading", { level: 1, name: "Security review" }).waitFor();

    await page.getByText("Add an integration").click();
    await page.getByLabel("Integration name").fill("Hub token");
    await page.getByLabel("Field name").fill("HUGGINGFACE_API_TOKEN");
    await page.getByLabel("Value").fill(HUB_TOKEN);
    await page.getByRole("button", { name: "Save integration" }).click();
    await page.getByRole("heading", { level: 3, name: "Hub token" }).waitFor();
    await page.getByText("Secret, write-only").waitFor();
    // Write-only: the value is gone from the form and never comes back from the server.
    expect(await page.content()).not.toContain(HUB_TOKEN);

    await page.getByText("Create a project").click();
    await page.getByLabel("Project name").fill("Vision models");
    await page.getByLabel("Description (optional)").fill("Checkpoints we load in production");
    await page.getByRole("button", { name: "Create project" }).click();
    await page.getByRole("heading", { level: 1, name: "Vision models" }).waitFor();
  });

  it("registers the private payload model with the integration, scans it and reads Alert with os.system", async () => {
    const { page } = browser;
    await page.getByRole("navigation", { name: "Project" }).getByRole("link", { name: "Model Registry" }).click();
    await page.getByRole("heading", { level: 1, name: "Model Registry" }).waitFor();
    await page.getByLabel("Hugging Face repository").fill("acme/payload");
    await page.getByLabel("Revision").fill("main");
    await page.getByLabel("Display name (optional)").fill("payload");
    await page.getByLabel("Integration").selectOption({ label: "Hub token" });
    await page.getByRole("button", { name: "Register model" }).click();
    await page.getByRole("heading", { level: 1, name: "payload" }).waitFor();
    await page.getByText("This model has not been scanned yet").waitFor();

    await page.getByRole("button", { name: "Run file scan" }).click();
    await page.getByRole("heading", { name: /Latest result/ }).waitFor({ timeout: 60_000 });
    const panel = page.getByRole("tabpanel", { name: "File Scan" });
    await expect(panel.locator(".verdict .badge").textContent()).resolves.toContain("Alert");
    const text = (await panel.textContent()) ?? "";
    expect(text).toContain("os.system");
    expect(text).toContain("os.system('echo modelvet-test')");
    expect(text).toContain("deny-os");
    await panel.getByRole("link", { name: "deny-os" }).first().waitFor();
    // The header badge comes from the model query, refreshed when the scan ends: wait for it.
    await expect.poll(() => page.locator(".latest-line").textContent(), { timeout: 10_000 }).toContain("Alert");
    await screenshots(page, "model-file-scan-alert");
  });

  it("shows Pass for a benign model", async () => {
    const { page } = browser;
    await page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link", { name: "Model Registry" }).click();
    await page.getByLabel("Hugging Face repository").fill("acme/benign");
    await page.getByRole("button", { name: "Register model" }).click();
    await page.getByRole("heading", { level: 1, name: "acme/benign" }).waitFor();
    await page.getByRole("button", { name: "Run file scan" }).click();
    await page.getByRole("heading", { name: /Latest result/ }).waitFor({ timeout: 60_000 });
    const panel = page.getByRole("tabpanel", { name: "File Scan" });
    await expect(panel.locator(".verdict .badge").textContent()).resolves.toContain("Pass");
    expect(await panel.textContent()).toContain("No file has findings");
    await screenshots(page, "model-file-scan-pass");
  });

  it("counts the models by latest severity in the registry, project and workspace", async () => {
    const POLL = { timeout: 10_000, interval: 100 };
    const { page } = browser;
    const trail = page.getByRole("navigation", { name: "Breadcrumb" });
    await trail.getByRole("link", { name: "Model Registry" }).click();
    const rows = page.getByRole("region", { name: "Models table" }).getByRole("row");
    await page.getByRole("rowheader", { name: "payload" }).waitFor();
    // The list may first show cached rows and refresh them a moment later: wait for the fresh values.
    await expect.poll(() => rows.filter({ hasText: "payload" }).textContent(), POLL).toContain("Alert");
    await expect.poll(() => rows.filter({ hasText: "acme/benign" }).textContent(), POLL).toContain("Pass");
    await screenshots(page, "model-registry");

    await page.getByRole("navigation", { name: "Project" }).getByRole("link", { name: "Overview" }).click();
    const counts = page.getByRole("list", { name: "Models by latest File Scan severity" });
    await expect
      .poll(() => counts.getByRole("listitem").filter({ hasText: "Alert" }).textContent(), POLL)
      .toMatch(/^1/);
    await expect.poll(() => counts.getByRole("listitem").filter({ hasText: "Pass" }).textContent(), POLL).toMatch(/^1/);
    await screenshots(page, "project-overview");

    await trail.getByRole("link", { name: "Security review" }).click();
    await page.getByRole("heading", { level: 1, name: "Security review" }).waitFor();
    const project = page.getByRole("row").filter({ hasText: "Vision models" });
    // Models, Alert, Warning, Pass, Not scanned.
    await expect.poll(() => project.getByRole("cell").allTextContents(), POLL).toEqual(["2", "1", "0", "1", "0"]);
    await screenshots(page, "workspace-summary");

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Workspaces" }).click();
    await page.getByRole("heading", { level: 1, name: "Workspaces" }).waitFor();
    await screenshots(page, "workspaces");
  });
});
