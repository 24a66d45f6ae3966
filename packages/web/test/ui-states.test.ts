/// <reference types="node" />
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasChromium, launch, screenshots, WEB_DIST, CHROMIUM, type Browser } from "./support/browser.js";
import { MockApi } from "./support/mock-api.js";

// The built UI against an in-memory API (test/support/mock-api.ts): error paths and controls that the real-server
// e2e test cannot reach cheaply. Needs `npm run build -w packages/web` first (the root `npm test` builds).
const ready = hasChromium && existsSync(`${WEB_DIST}/index.html`);
if (!hasChromium) console.warn(`web UI tests skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);
else if (!ready) console.warn("web UI tests skipped: packages/web/dist is missing (npm run build -w packages/web)");

describe.skipIf(!ready)("web UI states (mock API)", () => {
  let api: MockApi;
  let browser: Browser;

  beforeAll(async () => {
    api = new MockApi(WEB_DIST);
    await api.start();
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await api?.stop();
  });

  it("rejects a wrong key on the sign-in page and keeps the person there", async () => {
    const { page } = browser;
    await page.goto(`${api.url}/workspaces`);
    await page.getByLabel("API key").waitFor();
    await page.getByLabel("API key").fill("mv_wrong");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert").textContent()).resolves.toContain("was not accepted");
    expect(new URL(page.url()).pathname).toBe("/sign-in");
  });

  it("walks to a model, follows a scan to Alert, re-judges outdated rules", async () => {
    const { page } = browser;
    await page.getByLabel("API key").fill(api.key);
    await page.getByRole("button", { name: "Sign in" }).click();
    // Back where the person was headed before signing in.
    await page.getByRole("heading", { level: 1, name: "Workspaces" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/workspaces");

    await page.getByLabel("Workspace name").fill("Research");
    await page.getByRole("button", { name: "Create workspace" }).click();
    await page.getByRole("heading", { level: 1, name: "Research" }).waitFor();

    await page.getByText("Add an integration").click();
    await page.getByLabel("Integration name").fill("hub token");
    await page.getByLabel("Value").fill("hf_secret_value");
    await page.getByRole("button", { name: "Save integration" }).click();
    await page.getByRole("heading", { level: 3, name: "hub token" }).waitFor();
    expect(await page.content()).not.toContain("hf_secret_value");

    await page.getByText("Create a project").click();
    await page.getByLabel("Project name").fill("Vision");
    await page.getByRole("button", { name: "Create project" }).click();
    await page.getByRole("heading", { level: 1, name: "Vision" }).waitFor();
    await page.getByRole("link", { name: "Model Registry" }).first().click();
    await page.getByRole("heading", { level: 1, name: "Model Registry" }).waitFor();

    api.outcomes.set("acme/evil", "alert");
    await page.getByLabel("Hugging Face repository").fill("acme/evil");
    await page.getByLabel("Integration").selectOption({ label: "hub token" });
    await page.getByRole("button", { name: "Register model" }).click();
    await page.getByRole("heading", { level: 1, name: "acme/evil" }).waitFor();

    await page.getByRole("button", { name: "Run file scan" }).click();
    await page.getByText(/1 of 2 files scanned/).waitFor();
    api.paused = true;
    await screenshots(page, "mock-scan-progress");
    api.paused = false;
    await page.getByRole("heading", { name: /Latest result/ }).waitFor({ timeout: 15_000 });
    const panel = page.getByRole("tabpanel");
    expect(await panel.textContent()).toContain("os.system");
    expect(await panel.textContent()).toContain("os.system('echo modelvet-test')");
    // A finding without a location says nothing about where (no empty "Where").
    const findings = panel.locator("section.file-reports").first();
    const limit = findings.locator(".finding").filter({ hasText: "more than 100000 opcodes" });
    expect(await limit.count()).toBe(1);
    expect(await limit.locator(".where").count()).toBe(0);
    expect(await findings.locator(".finding").filter({ hasText: "os.system" }).locator(".where").textContent()).toBe(
      "Where: at byte 23",
    );
    await screenshots(page, "mock-model-alert");
    // The rule id opens the rule's page; only http(s) references become links there.
    await panel.getByRole("link", { name: "deny-os" }).click();
    await page.getByRole("heading", { level: 1, name: "deny-os" }).waitFor();
    await page.getByRole("link", { name: "https://docs.python.org/3/library/os.html" }).waitFor();
    expect(await page.getByRole("link", { name: "javascript:alert(1)" }).count()).toBe(0);
    await page.goBack();
    await page.getByRole("heading", { name: /Latest result/ }).waitFor();

    // The rules moved on: the result says so and Re-judge brings it up to date.
    api.rulesVersion = "2026.12.24";
    for (const scan of api.scans.values()) scan.rules_outdated = true;
    await page.reload();
    await page.getByText("Outdated rules:").waitFor();
    await page.getByRole("button", { name: "Re-judge" }).click();
    await page.getByText("Outdated rules:").waitFor({ state: "detached" });
    expect(await panel.textContent()).toContain("2026.12.24");
  });

  it("moves between tabs with the arrow keys", async () => {
    const { page } = browser;
    await page.getByRole("tab", { name: "File Scan" }).focus();
    await page.keyboard.press("ArrowRight");
    await page.getByRole("tab", { name: "Details", selected: true }).waitFor();
    // (Page code as strings: the root tsconfig type-checks tests without the DOM library.)
    expect(await page.evaluate("document.activeElement.textContent")).toBe("Details");
    expect(page.url()).toContain("tab=details");
    await page.keyboard.press("Home");
    await page.getByRole("tab", { name: "File Scan", selected: true }).waitFor();
  });

  it("shows a failed scan with its reason", async () => {
    const { page } = browser;
    await page.getByRole("link", { name: "Model Registry" }).click();
    api.outcomes.set("acme/private", "fail");
    await page.getByLabel("Hugging Face repository").fill("acme/private");
    await page.getByRole("button", { name: "Register model" }).click();
    await page.getByRole("button", { name: "Run file scan" }).click();
    await page.getByRole("heading", { name: /The latest file scan failed/ }).waitFor({ timeout: 15_000 });
    expect(await page.getByRole("tabpanel").textContent()).toContain("HUGGINGFACE_API_TOKEN was rejected");
    await screenshots(page, "mock-model-failed");
    // The cause fixed, Retry runs the scan again and the result replaces the failure.
    api.outcomes.delete("acme/private");
    await page.getByRole("button", { name: "Retry the scan" }).click();
    await page.getByRole("heading", { name: /Latest result/ }).waitFor({ timeout: 15_000 });
    expect(await page.getByRole("heading", { name: /The latest file scan failed/ }).count()).toBe(0);
    // The failed scan stays in the history, marked failed.
    expect(await page.locator(".history").textContent()).toContain("Scan failed");
  });

  it("sends the person back to sign-in with a message when the key stops working", async () => {
    const { page } = browser;
    const modelPath = new URL(page.url()).pathname;
    api.key = "mv_rotated";
    await page.getByRole("link", { name: "Workspaces" }).first().click();
    await page.getByLabel("API key").waitFor();
    expect(await page.getByRole("status").textContent()).toMatch(/not accepted any more/);
    await screenshots(page, "sign-in-expired");
    // Signing in again returns to the page that failed, not to the start.
    await page.getByLabel("API key").fill(api.key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Workspaces" }).waitFor();
    expect(modelPath).toMatch(/^\/models\//);
  });

  it("signs out and forgets the key", async () => {
    const { page } = browser;
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").waitFor();
    expect(await page.evaluate('sessionStorage.getItem("modelvet.apiKey")')).toBeNull();
    await page.goto(`${api.url}/workspaces`);
    await page.getByLabel("API key").waitFor();
  });
});
