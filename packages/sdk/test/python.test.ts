import { spawnSync } from "node:child_process";
import { expect, it } from "vitest";
import { findPython, NO_PYTHON, PYTHON_DIR } from "./support/python.js";

// The Python SDK's own unittest suite (python/tests), run here so `npm test` covers both SDKs.
const python = findPython();

it("passes the Python SDK's unit tests", (ctx) => {
  if (!python) return ctx.skip(NO_PYTHON);
  const run = spawnSync(python, ["-m", "unittest", "discover", "-s", "tests", "-v"], {
    cwd: PYTHON_DIR,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
  });
  // unittest reports on stderr; show it whole when something fails.
  expect(run.status, run.stderr + run.stdout).toBe(0);
  expect(run.stderr).toMatch(/^OK/m);
});
