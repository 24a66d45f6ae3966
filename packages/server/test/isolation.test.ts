import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { revisionProblem, repoIdProblem } from "@modelvet/engine";
import { FakeHub, smallFile } from "../../engine/test/support/hub-server.js";
import { ADMIN_KEY, CliProcess, httpClient, removeDir, SECRET_KEY, SHA, tempDir, waitUntil } from "./helpers.js";

const BOMBS = ["bz2", "xz", "lz4", "z"];
const bomb = (ext: string): Buffer => readFileSync(new URL(`./fixtures/bombs/bomb.joblib.${ext}`, import.meta.url));

let hub: FakeHub;
let dataDir: string;
let server: CliProcess;

beforeAll(async () => {
  hub = new FakeHub();
  for (const ext of BOMBS)
    hub.addRepo({
      id: `bombs/${ext}`,
      refs: { main: SHA },
      commits: { [SHA]: [smallFile(`model.joblib.${ext}`, bomb(ext), { lfs: true })] },
    });
  hub.addRepo({
    id: "acme/benign",
    refs: { main: SHA },
    commits: { [SHA]: [smallFile("config.json", Buffer.from('{"model_type": "tiny"}'))] },
  });
  await hub.start();
  dataDir = tempDir();
  server = new CliProcess(["serve", "--port", "0", "--data-dir", dataDir], {
    HF_ENDPOINT: hub.hubUrl,
    MODELVET_BOOTSTRAP_API_KEY: ADMIN_KEY,
    MODELVET_SECRET_KEY: SECRET_KEY,
    MODELVET_CONCURRENCY: "4",
    MODELVET_MAX_SCAN_MEMORY_MB: "512",
    MODELVET_DEFAULT_RAM_MB: "256",
    MODELVET_POLL_MS: "200",
    MODELVET_CACHE: "off",
    // Decompressing 512 MB of bz2 in JavaScript over Range reads is CPU-bound: the time limit is a bomb's other end.
    MODELVET_JOB_TIMEOUT_SECONDS: "25",
  });
});

afterAll(async () => {
  await server?.kill("SIGKILL");
  await hub?.stop();
  removeDir(dataDir);
});

test("four decompression bombs at the smallest limit end failed with a reason; the server keeps answering", async () => {
  const url = (await server.waitForLog("modelvet serving")).url as string;
  const api = httpClient(url, ADMIN_KEY);
  const ws = await api("POST", "/workspaces", { name: "w" });
  const project = await api("POST", "/projects", { name: "p", workspace_id: ws.body.workspace_id });
  const projectId = project.body.project_id as string;
  const register = async (uri: string): Promise<string> => {
    const model = await api("POST", `/projects/${projectId}/models`, {
      name: uri,
      model_config: { hugging_face: { model_uri: uri } },
    });
    expect(model.status).toBe(201);
    return model.body.model_id as string;
  };

  const tooLarge = await api("POST", "/file-scans", {
    model_id: await register("acme/benign"),
    project_id: projectId,
    ram_request_megabytes: 1024,
  });
  expect(tooLarge.status).toBe(400);
  expect(tooLarge.text).toContain("512");

  const ids: string[] = [];
  for (const ext of BOMBS) {
    const started = await api("POST", "/file-scans", {
      model_id: await register(`bombs/${ext}`),
      project_id: projectId,
      ram_request_megabytes: 128,
    });
    expect(started.status).toBe(202);
    ids.push(started.body.file_scan_id as string);
  }
  const benign = await api("POST", "/file-scans", { model_id: await register("acme/benign"), project_id: projectId });
  ids.push(benign.body.file_scan_id as string);

  // A client polling health and status every 100 ms; every answer must come.
  let polls = 0;
  let pollFailures = 0;
  let last: Array<Record<string, unknown>> = [];
  await waitUntil(
    async () => {
      const health = await fetch(`${url}/healthz`).catch(() => undefined);
      if (health?.status !== 200) pollFailures++;
      last = await Promise.all(ids.map(async (id) => (await api("GET", `/file-scans/${id}`)).body));
      polls++;
      return last.every((s) => s.status === "succeeded" || s.status === "failed");
    },
    60_000,
    () =>
      `${JSON.stringify(last.map((s) => [s.status, s.error]))}\n${server.stdout
        .split("\n")
        .filter((l) => !l.includes("request"))
        .slice(-30)
        .join("\n")}${server.stderr}`,
  );
  expect(server.child.exitCode).toBeNull();
  expect(pollFailures).toBe(0);
  expect(polls).toBeGreaterThan(5);
  for (const scan of last.slice(0, BOMBS.length)) {
    if (scan.status === "failed")
      expect(scan.error).toMatch(/scan exceeded (128|256) MB|not started again|took longer than 25 s/);
    else expect(scan.severity).toBeGreaterThanOrEqual(2);
  }
  expect(last[BOMBS.length]!.status).toBe("succeeded");
  console.info(
    `isolation: ${polls} polls, bombs: ${last
      .slice(0, 4)
      .map((s) => s.error ?? s.severity)
      .join(" | ")}`,
  );
}, 150_000);

test("revisions and repo ids the Hub would not accept are refused", () => {
  for (const bad of ["..", ".", "a/../b", "a//b", "/main", "main/", "%2e%2e", "ma\u0001in", "a b", "x.lock", "x."])
    expect(revisionProblem(bad), bad).toBeDefined();
  for (const good of ["main", "v1.0", "refs/pr/1", "a".repeat(40), "feature/x-y_z"])
    expect(revisionProblem(good), good).toBeUndefined();
  for (const bad of ["a/b/c", "..", "a/..", "-x", "a--b/c", "org/x."]) expect(repoIdProblem(bad), bad).toBeDefined();
  expect(repoIdProblem("acme/payload")).toBeUndefined();
});
