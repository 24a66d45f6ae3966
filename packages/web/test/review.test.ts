/// <reference types="node" />
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeHub, smallFile } from "../../engine/test/support/hub-server.js";
import {
  CHROMIUM,
  hasChromium,
  launchSignedIn,
  PHONE,
  LAPTOP,
  screenshots,
  WEB_DIST,
  type Browser,
} from "./support/browser.js";
import { CLI, ROOT, serve, type Served } from "./support/serve.js";

// What a security engineer reads and does on a model's File Scan tab and the manage pages, against the real server
// (`modelvet serve`) and a Hub-compatible test server, in Debian's Chromium at 1366×768 and 390×844.
const run = promisify(execFile);
const FIXTURES = join(ROOT, "packages/engine/test/fixtures");
const API_KEY = "mv_review_bootstrap_key_0123456789abcdefghijklmnopqrstu";
const C1 = "c1c1000000000000000000000000000000000001";
const C2 = "c2c2000000000000000000000000000000000002";
const DANGEROUS = { safe: false, pickleImportScan: { highestSafetyLevel: "dangerous", imports: [] } };
const INNOCUOUS = { safe: true, pickleImportScan: { highestSafetyLevel: "innocuous", imports: [] } };
const SCANNER_SOURCE =
  /github\.com\/(promptfoo\/modelaudit|trailofbits\/fickling|mmaitre314\/picklescan|protectai\/modelscan)\/blob/;

const ready = hasChromium && existsSync(join(WEB_DIST, "index.html"));
if (!hasChromium) console.warn(`web review tests skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);
else if (!ready) console.warn("web review tests skipped: packages/web/dist is missing (npm run build -w packages/web)");

const fixture = (name: string) => readFile(join(FIXTURES, name));

describe.skipIf(!ready)("web UI: reading a scan and managing what it shows (real server, test Hub, Chromium)", () => {
  const hub = new FakeHub();
  let server: Served;
  let browser: Browser;
  let page: Page;
  let workspaceId = "";
  let projectId = "";
  let integrationId = "";
  let mixedId = "";
  let commits: Record<string, ReturnType<typeof smallFile>[]> = {};

  async function call(method: string, path: string, body?: unknown, key = API_KEY) {
    const response = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  }

  async function register(modelUri: string, name: string): Promise<string> {
    const model = await call("POST", `/projects/${projectId}/models`, {
      name,
      model_config: { hugging_face: { model_uri: modelUri, revision: "main" } },
    });
    return model.body.model_id as string;
  }

  const panel = () => page.getByRole("tabpanel", { name: "File Scan" });
  const filesTable = () => page.getByRole("table", { name: "Scanned files, worst first" });
  const fileOrder = () => filesTable().getByRole("rowheader").allTextContents();

  async function scanAndWait(): Promise<void> {
    const before = await page.locator(".history > li").count();
    await panel().getByRole("button", { name: "Run file scan" }).click();
    await expect.poll(() => page.locator(".history > li").count(), { timeout: 60_000 }).toBe(before + 1);
    await page.getByRole("heading", { name: /Latest result/ }).waitFor();
  }

  beforeAll(async () => {
    const mixed = [
      smallFile("model.pkl", await fixture("adversarial/o6-inst.pkl"), { lfs: true, security: DANGEROUS }),
      smallFile("wrapped.pkl", await fixture("adversarial/partial-wraps-system.pkl"), { security: INNOCUOUS }),
      smallFile("llama.gguf", await fixture("formats/gguf/ssti_obfuscated.gguf"), { lfs: true }),
      smallFile("broken.pkl", await fixture("adversarial/truncated-header.pkl")),
      smallFile("config.json", Buffer.from('{"model_type": "llama"}')),
      smallFile("README.md", Buffer.from("# mixed\n")),
    ];
    const benign = [
      smallFile("model.pkl", await fixture("adversarial/copyreg-reconstructor-p2.pkl"), { lfs: true }),
      smallFile("config.json", Buffer.from('{"model_type": "llama"}')),
    ];
    commits = { [C1]: mixed, [C2]: benign };
    hub.addRepo({ id: "acme/mixed", refs: { main: C1 }, commits });
    await hub.start();
    server = await serve(hub.hubUrl, API_KEY);
    workspaceId = (await call("POST", "/workspaces", { name: "Review" })).body.workspace_id as string;
    integrationId = (
      await call("POST", `/workspaces/${workspaceId}/integrations`, {
        name: "hub token",
        integration_type: "CUSTOM",
        integration_schema: [{ name: "HUGGINGFACE_API_TOKEN", sensitivity: "SECRET", value: "hf_first_secret" }],
      })
    ).body.integration_id as string;
    projectId = (await call("POST", "/projects", { name: "Audit", workspace_id: workspaceId })).body
      .project_id as string;
    mixedId = await register("acme/mixed", "mixed");
    browser = await launchSignedIn(server.url, API_KEY);
    page = browser.page;
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await hub.stop();
  });

  it("follows a running scan live, then shows the verdict and every file worst first", async () => {
    await page.goto(`${server.url}/models/${mixedId}`);
    await page.getByText("This model has not been scanned yet").waitFor();
    // Slow Hub answers keep the scan running long enough to watch files done of total and bytes read move.
    hub.delayMs = 1200;
    await panel().getByRole("button", { name: "Run file scan" }).click();
    await page.getByText(/\d of 6 files scanned, \d+(\.\d)? (B|KiB) read/).waitFor({ timeout: 30_000 });
    await screenshots(page, "review-scan-progress");
    hub.delayMs = 0;
    await page.getByRole("heading", { name: /Latest result/ }).waitFor({ timeout: 60_000 });
    // The verdict comes first, then the files table, then the findings.
    const order = await page.evaluate(
      `[".verdict", "section.files", "section.file-reports"].map((s) => document.querySelector(s)?.getBoundingClientRect().top ?? -1)`,
    );
    expect(order).toEqual([...(order as number[])].sort((a, b) => a - b));
    expect(order).not.toContain(-1);
    expect(await fileOrder()).toEqual([
      "llama.gguf",
      "model.pkl",
      "wrapped.pkl",
      "broken.pkl",
      "config.json",
      "README.md",
    ]);
    const severities = await filesTable().locator("tbody tr td:first-child").allTextContents();
    expect(severities.map((s) => s.replace(/^\W+/, "").trim())).toEqual([
      "Alert",
      "Alert",
      "Alert",
      "Warning",
      "Pass",
      "Pass",
    ]);
    const first = await filesTable().locator("tbody tr").first().textContent();
    expect(first).toContain("gguf");
    // The sizes and the bytes read of a scan that read from the Hub (nothing cached yet).
    expect(await filesTable().textContent()).not.toContain("from cache");
    await screenshots(page, "review-files-table");
  });

  it("filters the files table by severity, format and text", async () => {
    const filters = page.getByRole("search", { name: "Filter files" });
    await filters.getByLabel("Severity").selectOption({ label: "Warning" });
    await expect.poll(fileOrder).toEqual(["broken.pkl"]);
    await filters.getByLabel("Severity").selectOption({ label: "All" });
    await filters.getByLabel("Format").selectOption({ label: "gguf" });
    await expect.poll(fileOrder).toEqual(["llama.gguf"]);
    await filters.getByLabel("Format").selectOption({ label: "All" });
    await filters.getByLabel("Path contains").fill("WRAPP");
    await expect.poll(fileOrder).toEqual(["wrapped.pkl"]);
    await page.getByText("Showing 1 of 6.").waitFor();
    await screenshots(page, "review-files-filtered");
    await filters.getByLabel("Path contains").fill("no such file");
    await page.getByText("No file matches these filters.").waitFor();
    await filters.getByLabel("Path contains").fill("");
    await expect.poll(async () => (await fileOrder()).length).toBe(6);
  });

  it("fits the files table at 1366 and 390 px: no clipped cell, and a phone shows severity and path first", async () => {
    for (const size of [LAPTOP, PHONE]) {
      await page.setViewportSize(size);
      const overflow = await page.evaluate<string[]>(`(() => {
        const table = document.querySelector(".files-table");
        const right = document.documentElement.clientWidth;
        const bad = [];
        for (const cell of table.querySelectorAll("td, th")) {
          const box = cell.getBoundingClientRect();
          if (box.width === 0) continue;
          if (cell.scrollWidth > cell.clientWidth + 1 || box.right > right + 0.5) bad.push(cell.textContent);
        }
        return bad;
      })()`);
      expect({ size, overflow }).toEqual({ size, overflow: [] });
    }
    // On the phone each file is a card: its severity and path sit on the first line, above formats and sizes.
    const row = filesTable().locator("tbody tr").first();
    const box = async (selector: string) => (await row.locator(selector).boundingBox())!;
    const severity = await box("td:first-child");
    const path = await box("th");
    const formats = await box('td[data-label="Formats"]');
    expect(Math.abs(severity.y - path.y)).toBeLessThan(8);
    expect(formats.y).toBeGreaterThan(path.y + path.height - 1);
    await page.setViewportSize(LAPTOP);
  });

  it("groups findings per rule and import, and a template's findings per template with its expressions", async () => {
    const wrapped = page.getByRole("article", { name: "Findings in wrapped.pkl" });
    const system = wrapped.locator(".finding").filter({ hasText: "posix.system" }).filter({ hasText: "deny-posix" });
    expect(await system.count()).toBe(1);
    expect(await system.textContent()).toContain("functools.partial(posix.system, 'echo modelvet-test')()");
    // Its two places are folded under the one entry.
    await system.getByText("Where: 2 places").click();
    await system.getByText("at byte 38").waitFor();
    await system.getByText("at byte 62").waitFor();

    const gguf = page.getByRole("article", { name: "Findings in llama.gguf" });
    // Seven template findings, one entry: the template, with its three offending expressions listed.
    expect(await gguf.locator(".findings > .finding").count()).toBe(1);
    const template = gguf.locator(".finding").first();
    expect(await template.textContent()).toContain("Template tokenizer.chat_template");
    expect(await template.textContent()).toContain("7 findings");
    const expressions = template.getByRole("list", { name: "Offending expressions in tokenizer.chat_template" });
    expect(await expressions.locator(":scope > li").count()).toBe(3);
    expect(await expressions.textContent()).toContain('lipsum.__globals__["os"].popen("id").read()');
    expect(await expressions.textContent()).toContain("request.application");
    // Every "Where" says where; none is empty.
    for (const text of await panel().locator(".where").allTextContents()) expect(text).toMatch(/^Where: \S/);
    // References moved to the rule pages: no finding links another scanner's source.
    const hrefs = await Promise.all((await panel().locator(".file-report a").all()).map((a) => a.getAttribute("href")));
    for (const href of hrefs) expect(href).not.toMatch(SCANNER_SOURCE);
    await page.locator(".file-report").first().scrollIntoViewIfNeeded();
    await screenshots(page, "review-findings-grouped");
  });

  it("opens a rule's page from its id: the same words as `modelvet rules explain`, no scanner source links", async () => {
    const wrapped = page.getByRole("article", { name: "Findings in wrapped.pkl" });
    await wrapped.getByRole("link", { name: "deny-posix" }).click();
    await page.getByRole("heading", { level: 1, name: "deny-posix" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/rules/deny-posix");
    const { stdout } = await run(process.execPath, [CLI, "rules", "explain", "deny-posix"]);
    const why = /## Why\n\n(.+)\n/.exec(stdout)![1]!;
    expect(await page.locator(".rule-reason").textContent()).toBe(why);
    const cliReferences = [...stdout.matchAll(/^- <(.+)>$/gm)].map((m) => m[1]);
    const links = await page.locator(".references a").allTextContents();
    expect(links).toEqual(cliReferences);
    expect(links.join(" ")).not.toMatch(SCANNER_SOURCE);
    expect(await page.locator(".rule-page").textContent()).toContain("Alert");
    await page.getByText("As modelvet rules explain deny-posix prints it").click();
    expect(await page.locator(".explanation").textContent()).toBe(stdout);
    await screenshots(page, "review-rule-page");
    await page.goBack();
    await page.getByRole("heading", { name: /Latest result/ }).waitFor();
  });

  it("links each file to the Hub at the scanned commit and shows the Hub's own verdict beside ours", async () => {
    const link = filesTable().getByRole("link", { name: "model.pkl" });
    expect(await link.getAttribute("href")).toBe(`${hub.hubUrl}/acme/mixed/blob/${C1}/model.pkl`);
    const row = (name: string) => filesTable().locator("tbody tr").filter({ hasText: name });
    const hubCell = (name: string) => row(name).locator('td[data-label="Hub’s scan"]').textContent();
    // The Hub calls model.pkl dangerous, as we do; it calls wrapped.pkl innocuous, where we see posix.system.
    expect(await hubCell("model.pkl")).toMatch(/dangerous\s*agrees/);
    expect(await hubCell("wrapped.pkl")).toMatch(/innocuous\s*we see more/);
    expect(await hubCell("llama.gguf")).toBe("—");
  });

  it("downloads the scan as JSON, SARIF and CycloneDX", async () => {
    const exports = page.getByRole("region", { name: "Export this scan" });
    const parsed: Record<string, { name: string; body: Record<string, unknown> }> = {};
    for (const label of ["JSON", "SARIF", "CycloneDX"]) {
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        exports.getByRole("button", { name: label }).click(),
      ]);
      const file = await download.path();
      parsed[label] = {
        name: download.suggestedFilename(),
        body: JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>,
      };
    }
    expect(parsed.JSON!.name).toMatch(/^modelvet-[0-9a-f-]+\.json$/);
    expect(parsed.JSON!.body).toMatchObject({ severity: 3, severity_label: "Alert" });
    expect(parsed.SARIF!.name).toMatch(/\.sarif$/);
    expect(parsed.SARIF!.body).toMatchObject({ version: "2.1.0" });
    expect(parsed.CycloneDX!.name).toMatch(/\.cdx\.json$/);
    expect(parsed.CycloneDX!.body).toMatchObject({ bomFormat: "CycloneDX", specVersion: "1.6" });
    const components = (parsed.CycloneDX!.body.components as Array<{ name: string }>).map((c) => c.name);
    expect(components).toHaveLength(6);
  });

  it("says 'from cache' for files read before, and the history shows how the severity changed and why", async () => {
    await scanAndWait();
    // The same commit again: every inventory comes from the cache, and nothing reads "0 B".
    const read = await filesTable().locator('td[data-label="Read"]').allTextContents();
    expect(read).toEqual(Array(6).fill("from cache"));
    expect(await page.locator(".history > li").first().textContent()).toContain("severity unchanged");

    // The repository moves on to a commit without the payloads: Alert → Pass, because the commit changed.
    hub.addRepo({ id: "acme/mixed", refs: { main: C2 }, commits });
    await scanAndWait();
    await expect(page.locator(".verdict .badge").first().textContent()).resolves.toContain("Pass");
    const newest = (await page.locator(".history > li").first().textContent()) ?? "";
    expect(newest).toContain("Alert → Pass");
    expect(newest).toContain(`commit ${C1.slice(0, 10)} → ${C2.slice(0, 10)}`);
    await page.locator(".history").scrollIntoViewIfNeeded();
    await screenshots(page, "review-history");
  });

  it("shows a failed scan as failed with its error, and Retry scans again", async () => {
    const goneId = await register("acme/later", "later");
    await page.goto(`${server.url}/models/${goneId}`);
    await panel().getByRole("button", { name: "Run file scan" }).click();
    const failed = page.getByRole("alert").filter({ hasText: "The latest file scan failed" });
    await failed.waitFor({ timeout: 60_000 });
    expect(await failed.textContent()).toMatch(/acme\/later@main: not found/);
    expect(await failed.textContent()).toContain("Scan failed");
    await screenshots(page, "review-failed-scan");
    // The registry counts it as failed, not "Not scanned".
    await page.goto(`${server.url}/projects/${projectId}/models`);
    const registryRow = page.getByRole("row").filter({ hasText: "later" });
    await expect.poll(() => registryRow.textContent()).toContain("Scan failed");
    // The breadcrumb stops at the project here: "Model Registry" is the heading and the tab, not a third time.
    expect(await page.getByRole("navigation", { name: "Breadcrumb" }).textContent()).not.toContain("Model Registry");

    hub.addRepo({
      id: "acme/later",
      refs: { main: C2 },
      commits: { [C2]: commits[C2]! },
    });
    await page.goto(`${server.url}/models/${goneId}`);
    await page.getByRole("heading", { level: 1, name: "later" }).waitFor();
    const trail = page.getByRole("navigation", { name: "Breadcrumb" });
    await expect.poll(() => trail.textContent()).toContain("Audit");
    expect((await trail.textContent())?.match(/Model Registry/g)).toHaveLength(1);
    await page.getByRole("button", { name: "Retry the scan" }).click();
    await page.getByRole("heading", { name: /Latest result/ }).waitFor({ timeout: 60_000 });
    await expect(page.locator(".verdict .badge").first().textContent()).resolves.toContain("Pass");
    expect(await page.getByText("The latest file scan failed").count()).toBe(0);
    expect(await page.locator(".history").textContent()).toContain("Scan failed");
  });

  it("edits and deletes a model, an integration and a project", async () => {
    // The model: a new name and revision from its Details tab.
    await page.goto(`${server.url}/models/${mixedId}?tab=details`);
    const edit = page.getByRole("form", { name: "Edit model" });
    await edit.getByLabel("Model name").fill("mixed (reviewed)");
    await edit.getByLabel("Revision to scan").fill("v2");
    await edit.getByRole("button", { name: "Save model" }).click();
    await page.getByRole("heading", { level: 1, name: "mixed (reviewed)" }).waitFor();
    await page.getByText("v2").first().waitFor();
    expect((await call("GET", `/models/${mixedId}`)).body.name).toBe("mixed (reviewed)");
    await screenshots(page, "review-edit-model");

    // The integration: renamed and its secret replaced; the secret is never shown, before or after.
    await page.goto(`${server.url}/workspaces/${workspaceId}`);
    await page.getByText("Edit hub token").click();
    const intForm = page.getByRole("form", { name: "Edit integration hub token" });
    await intForm.getByLabel("Integration name").fill("hub token 2");
    expect(await intForm.getByLabel("New value for HUGGINGFACE_API_TOKEN").inputValue()).toBe("");
    await intForm.getByLabel("New value for HUGGINGFACE_API_TOKEN").fill("hf_second_secret");
    await intForm.getByRole("button", { name: "Save integration changes" }).click();
    await page.getByRole("heading", { level: 3, name: "hub token 2" }).waitFor();
    expect(await page.content()).not.toContain("hf_second_secret");
    expect(await page.content()).not.toContain("hf_first_secret");
    await screenshots(page, "review-edit-integration");

    // The project: renamed from its overview.
    await page.goto(`${server.url}/projects/${projectId}`);
    await page.getByText("Edit project").click();
    await page.getByRole("form", { name: "Edit project" }).getByLabel("Project name").fill("Audit 2026");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByRole("heading", { level: 1, name: "Audit 2026" }).waitFor();

    // Delete the model (its history goes too, the default), then the integration, then the project.
    await page.goto(`${server.url}/models/${mixedId}?tab=details`);
    await page.getByRole("button", { name: "Delete model mixed (reviewed)…" }).click();
    await screenshots(page, "review-delete-model");
    await page.getByRole("button", { name: "Yes, delete model mixed (reviewed)" }).click();
    await page.getByRole("heading", { level: 1, name: "Model Registry" }).waitFor();
    expect(await page.getByRole("rowheader", { name: "mixed (reviewed)" }).count()).toBe(0);
    expect((await call("GET", `/models/${mixedId}`)).status).toBe(404);

    await page.goto(`${server.url}/workspaces/${workspaceId}`);
    await page.getByRole("button", { name: "Delete integration hub token 2…" }).click();
    await page.getByRole("button", { name: "Yes, delete integration hub token 2" }).click();
    await page.getByRole("heading", { level: 3, name: "hub token 2" }).waitFor({ state: "detached" });
    expect((await call("GET", `/workspaces/${workspaceId}/integrations`)).body.integrations).toEqual([]);
    expect(integrationId).toMatch(/\S/);

    await page.goto(`${server.url}/projects/${projectId}`);
    await page.getByRole("button", { name: "Delete project Audit 2026…" }).click();
    await page.getByRole("button", { name: "Yes, delete project Audit 2026" }).click();
    await page.getByRole("heading", { level: 1, name: "Review" }).waitFor();
    await page.getByText("No projects yet.").waitFor();
    expect((await call("GET", `/projects/${projectId}`)).status).toBe(404);
  });

  it("creates a workspace key shown once, lists it by prefix and time, and revokes it", async () => {
    const keys = page.getByRole("region", { name: "API keys" }).or(page.locator('section[aria-labelledby="api-keys"]'));
    await keys.getByLabel("Key name").fill("ci");
    await keys.getByRole("button", { name: "Create key" }).click();
    const shown = (await keys.getByLabel("The new API key").textContent())!;
    expect(shown).toMatch(/^mv_/);
    expect((await call("GET", "/workspaces", undefined, shown)).body.workspaces).toEqual([
      expect.objectContaining({ workspace_id: workspaceId }),
    ]);
    await screenshots(page, "review-api-key-created");
    // Shown once: after a reload only its prefix and creation time remain.
    await page.reload();
    const row = keys.getByRole("row").filter({ hasText: "ci" });
    await row.waitFor();
    expect(await page.content()).not.toContain(shown);
    const prefix = (await row.locator("code").textContent())!.replace("…", "");
    expect(prefix.length).toBeGreaterThan(3);
    expect(shown.startsWith(prefix)).toBe(true);
    expect(await row.locator("time").count()).toBe(1);
    await screenshots(page, "review-api-keys");
    await row.getByRole("button", { name: "Revoke ci" }).click();
    await row.waitFor({ state: "detached" });
    expect((await call("GET", "/workspaces", undefined, shown)).status).toBe(401);
  });

  it("renames and deletes the workspace", async () => {
    await page.getByText("Rename workspace").click();
    await page.getByRole("form", { name: "Rename workspace" }).getByLabel("Workspace name").fill("Review done");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByRole("heading", { level: 1, name: "Review done" }).waitFor();
    await page.getByRole("button", { name: "Delete workspace Review done…" }).click();
    await page.getByRole("button", { name: "Yes, delete workspace Review done" }).click();
    await page.getByRole("heading", { level: 1, name: "Workspaces" }).waitFor();
    expect(await page.getByText("Review done").count()).toBe(0);
    expect((await call("GET", `/workspaces/${workspaceId}`)).status).toBe(404);
  });
});
