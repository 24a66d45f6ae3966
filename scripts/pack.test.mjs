// `npm run test:pack`: the packages as a user gets them. Packs every public package, installs the tarballs into
// empty folders outside the repository (the CLI alone, then CLI + server) and runs the installed `modelvet` there:
// --version, a scan of a malicious pickle, a scan of an hf:// repo on the test Hub server, and `serve`.
// Prints the install size and time of both, which the README quotes.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { FakeHub, smallFile } from "../packages/engine/test/support/hub-server.ts";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..");
const PUBLIC = ["schema", "engine", "cli", "sdk", "server"];
const MALICIOUS = join(ROOT, "packages/engine/test/fixtures/adversarial/o6-inst.pkl");
const WORK = mkdtempSync(join(tmpdir(), "modelvet-pack-"));
const TARBALLS = join(WORK, "tarballs");
const hub = new FakeHub();
const SHA = "a".repeat(40);
const tarballs = {};

/** Runs a command, never throwing: the test looks at the exit code. */
async function sh(cmd, args, { cwd, env = {}, timeout = 300_000 } = {}) {
  const started = Date.now();
  try {
    const { stdout, stderr } = await run(cmd, args, {
      cwd,
      env: { ...process.env, NO_COLOR: "1", ...env },
      timeout,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr, seconds: (Date.now() - started) / 1000 };
  } catch (e) {
    return { code: e.code ?? 1, stdout: e.stdout ?? "", stderr: e.stderr ?? String(e), seconds: 0 };
  }
}

/** Bytes on disk under a folder (files' sizes; links not followed). */
function diskBytes(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/** Installs tarballs into a new empty folder; returns the folder and what the install took. */
async function installInto(name, packages) {
  const dir = join(WORK, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `pack-test-${name}`, private: true }));
  const result = await sh("npm", ["install", "--no-audit", "--no-fund", ...packages.map((p) => tarballs[p])], {
    cwd: dir,
  });
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stderr, /EBADENGINE|Unsupported engine/, "an installed package rejects this Node");
  const megabytes = diskBytes(join(dir, "node_modules")) / 1e6;
  console.log(`install ${packages.join(" + ")}: ${megabytes.toFixed(1)} MB in node_modules, ${result.seconds}s`);
  return dir;
}

function installed(dir, name) {
  try {
    statSync(join(dir, "node_modules", name));
    return true;
  } catch {
    return false;
  }
}

/** Native addons compiled during the install (node-gyp output), as opposed to prebuilt binaries shipped. */
function compiledAddons(dir) {
  return readdirSync(join(dir, "node_modules"), { recursive: true })
    .map(String)
    .filter((p) => /(^|\/)build\/Release\/[^/]+\.node$/.test(p));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

before(async () => {
  mkdirSync(TARBALLS);
  for (const name of PUBLIC) {
    const packed = await sh("npm", ["pack", "--json", "--pack-destination", TARBALLS, "-w", `packages/${name}`], {
      cwd: ROOT,
    });
    assert.equal(packed.code, 0, packed.stderr);
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("[")));
    tarballs[name] = join(TARBALLS, info.filename);
  }
  hub.addRepo({
    id: "acme/payload",
    refs: { main: SHA },
    commits: { [SHA]: [smallFile("pytorch_model.bin", readFileSync(MALICIOUS), { lfs: true })] },
  });
  await hub.start();
});

after(async () => {
  await hub.stop();
  rmSync(WORK, { recursive: true, force: true });
});

describe("packed tarballs", () => {
  it("hold built output only: no tests, fixtures, TypeScript sources or source maps", async () => {
    for (const name of PUBLIC) {
      const listed = await sh("npm", ["pack", "--dry-run", "--json", "-w", `packages/${name}`], { cwd: ROOT });
      const [info] = JSON.parse(listed.stdout.slice(listed.stdout.indexOf("[")));
      const files = info.files.map((f) => f.path);
      assert.ok(files.includes("package.json") && files.includes("README.md"), `${name}: ${files.join(", ")}`);
      const unwanted = files.filter((f) => /(^|\/)(test|tests|fixtures)\/|\.map$|(?<!\.d)\.ts$/.test(f));
      assert.deepEqual(unwanted, [], `${name} packs files it does not need`);
      if (name === "schema") assert.ok(files.includes("dist/schemas.json"), `schema: ${files.join(", ")}`);
      const pkg = JSON.parse(readFileSync(join(ROOT, "packages", name, "package.json"), "utf8"));
      assert.ok(!pkg.private && pkg.exports && pkg.types && pkg.files, `${name}: private, exports, types, files`);
    }
  });
});

describe("the CLI installed alone", () => {
  let dir;
  before(async () => {
    dir = await installInto("cli-only", ["schema", "engine", "cli"]);
  });

  it("pulls in no database, HTTP server or UI and compiles no native addon", () => {
    for (const name of ["@modelvet/server", "better-sqlite3", "pg", "fastify", "react"])
      assert.equal(installed(dir, name), false, `${name} was installed with the CLI`);
    assert.deepEqual(compiledAddons(dir), []);
  });

  it("prints its version", async () => {
    const r = await sh("npx", ["modelvet", "--version"], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), JSON.parse(readFileSync(join(ROOT, "packages/cli/package.json"), "utf8")).version);
  });

  it("alerts on a malicious pickle with exit code 1", async () => {
    const r = await sh("npx", ["modelvet", "scan", MALICIOUS], { cwd: dir });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /Alert/);
  });

  it("scans an hf:// repo on the test Hub server", async () => {
    const r = await sh("npx", ["modelvet", "scan", "hf://acme/payload"], {
      cwd: dir,
      env: { HF_ENDPOINT: hub.hubUrl, HF_TOKEN: "" },
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /Alert/);
    assert.match(r.stdout, /pytorch_model\.bin/);
  });

  it("says in one line what to install for `serve`", async () => {
    const r = await sh("npx", ["modelvet", "serve"], { cwd: dir });
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /npm i @modelvet\/server/);
  });
});

describe("the CLI with the server", () => {
  let dir;
  before(async () => {
    dir = await installInto("cli-server", ["schema", "engine", "cli", "sdk", "server"]);
  });

  it("serves /healthz and the web UI", async () => {
    const port = await freePort();
    const dataDir = join(WORK, "data");
    const child = spawn("npx", ["modelvet", "serve"], {
      cwd: dir,
      env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", MODELVET_DATA_DIR: dataDir },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group: npx and the node it starts stop together
    });
    let logs = "";
    child.stdout.on("data", (c) => (logs += c));
    child.stderr.on("data", (c) => (logs += c));
    try {
      const url = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 60_000;
      let health;
      while (!health?.ok && Date.now() < deadline && child.exitCode === null) {
        health = await globalThis.fetch(`${url}/healthz`).catch(() => undefined);
        if (!health?.ok) await sleep(250);
      }
      assert.ok(health?.ok, `no /healthz answer:\n${logs}`);
      const page = await globalThis.fetch(`${url}/`);
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /<!doctype html>/i);
      assert.match(html, /<script[^>]+src="\/assets\//);
    } finally {
      process.kill(-child.pid, "SIGTERM");
      await new Promise((r) => (child.exitCode === null ? child.once("close", r) : r()));
    }
  });
});
