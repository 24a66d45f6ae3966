import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's `python/` folder (the Python SDK, its tests and examples). */
export const PYTHON_DIR = fileURLToPath(new URL("../../../../python/", import.meta.url));

/** A Python ≥ 3.9 interpreter (the SDK's floor), or undefined: /usr/bin/python3 first, then python3 on PATH. */
export function findPython(): string | undefined {
  for (const candidate of ["/usr/bin/python3", "python3"]) {
    const probe = spawnSync(candidate, ["-c", "import sys; print(sys.version_info >= (3, 9))"], { encoding: "utf8" });
    if (probe.status === 0 && probe.stdout.trim() === "True") return candidate;
  }
  return undefined;
}

export const NO_PYTHON = "skipped: no python3 >= 3.9 on this machine (the Python SDK's floor)";

export interface PythonRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a Python interpreter without blocking this process (the test Hub answering the service lives here),
 * killed after two minutes. `stdin` is written and closed (a REPL reads it as typed at its prompt).
 */
export function runPython(
  python: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; stdin?: string } = {},
): Promise<PythonRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, {
      cwd: options.cwd ?? PYTHON_DIR,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? "");
  });
}

/** Runs python/examples/`name` with the SDK from the checkout, against a service at `url` with `apiKey`. */
export function runExample(
  python: string,
  name: string,
  service: { url: string; apiKey: string },
  env: Record<string, string> = {},
): Promise<PythonRun> {
  return runPython(python, [join(PYTHON_DIR, "examples", name)], {
    env: { PYTHONPATH: PYTHON_DIR, MODELVET_URL: service.url, MODELVET_API_KEY: service.apiKey, ...env },
  });
}
