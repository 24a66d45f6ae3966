import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FakeHub, smallFile, type RepoSpec } from "../../../engine/test/support/hub-server.js";
import { REPO_ROOT, startService, type RunningService } from "./service.js";

/** The adversarial pickle the scans find (`os.system` through INST). */
export function payloadPickle(): Buffer {
  return readFileSync(join(REPO_ROOT, "packages/engine/test/fixtures/adversarial/o6-inst.pkl"));
}

/** A public repo `id` whose `main` is `sha`, holding one file: model.pkl, the payload pickle (as LFS). */
export function payloadRepo(id: string, sha: string): RepoSpec {
  return { id, refs: { main: sha }, commits: { [sha]: [smallFile("model.pkl", payloadPickle(), { lfs: true })] } };
}

export interface HubAndService {
  hub: FakeHub;
  service: RunningService;
  stop(): Promise<void>;
}

/** A test Hub holding `repos`, and `modelvet serve` reading it (with `env` besides HF_ENDPOINT). */
export async function startHubAndService(repos: RepoSpec[], env: Record<string, string> = {}): Promise<HubAndService> {
  const hub = new FakeHub();
  for (const repo of repos) hub.addRepo(repo);
  await hub.start();
  try {
    const service = await startService({ HF_ENDPOINT: hub.hubUrl, ...env });
    return {
      hub,
      service,
      async stop() {
        await service.stop();
        await hub.stop();
      },
    };
  } catch (e) {
    await hub.stop();
    throw e;
  }
}

/**
 * A private repo read only with `token`: config.json and pytorch_model.bin (the payload pickle, as LFS), then
 * `extra` files, at `sha` on main.
 */
export function privatePayloadRepo(
  id: string,
  sha: string,
  token: string,
  extra: ReturnType<typeof smallFile>[] = [],
): RepoSpec {
  const files = [
    smallFile("config.json", Buffer.from('{"model_type": "bert"}')),
    smallFile("pytorch_model.bin", payloadPickle(), { lfs: true }),
    ...extra,
  ];
  return { id, private: true, token, refs: { main: sha }, commits: { [sha]: files } };
}
