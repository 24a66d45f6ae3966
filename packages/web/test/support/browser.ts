/// <reference types="node" />
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";

/** Debian's chromium package (never `playwright install`: CI and this machine are offline for browser downloads). */
export const CHROMIUM = "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM);

const here = dirname(fileURLToPath(import.meta.url));
export const WEB_DIST = resolve(here, "../../dist");
export const SCREENSHOTS = resolve(here, "../../../../test-output/screenshots");

export const LAPTOP = { width: 1366, height: 768 };
export const PHONE = { width: 390, height: 844 };

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** A fresh profile per run, so no key or cache leaks between tests; flags from research/deps.md §9. */
export async function launch(): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), "modelvet-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: LAPTOP,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Full-page screenshots at laptop and phone width, named `<name>-laptop.png` / `<name>-phone.png`. */
export async function screenshots(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  for (const [label, size] of [
    ["laptop", LAPTOP],
    ["phone", PHONE],
  ] as const) {
    await page.setViewportSize(size);
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize(LAPTOP);
}

/** A fresh browser signed in to the UI at `baseUrl` with `apiKey`, showing the Workspaces page. */
export async function launchSignedIn(baseUrl: string, apiKey: string): Promise<Browser> {
  const browser = await launch();
  try {
    await browser.page.goto(`${baseUrl}/sign-in`);
    await browser.page.getByLabel("API key").fill(apiKey);
    await browser.page.getByRole("button", { name: "Sign in" }).click();
    await browser.page.getByRole("heading", { level: 1, name: "Workspaces" }).waitFor();
    return browser;
  } catch (e) {
    await browser.close();
    throw e;
  }
}
