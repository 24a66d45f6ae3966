import { spawnSync } from "node:child_process";
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
