import type { ScannedFile } from "../../api/types";

/** `hf://org/repo@0123456789ab/dir/model.bin` → `dir/model.bin`: the repository and commit are shown once, above. */
export function displayPath(path: string): string {
  const match = /^hf:\/\/[^@]+@[0-9a-f]+\/(.+)$/.exec(path);
  return match ? match[1]! : path;
}

/**
 * The file on the Hub at the scanned commit: the link the scan recorded, or one built from the server's Hub
 * endpoint (GET /settings) for results stored before scans recorded it.
 */
export function hubFileUrl(
  file: Pick<ScannedFile, "path" | "url">,
  hubEndpoint: string | null | undefined,
  repo: string,
  commit: string | null,
): string | undefined {
  if (file.url) return file.url;
  if (!hubEndpoint || !commit || !file.path.startsWith("hf://")) return undefined;
  const encoded = displayPath(file.path).split("/").map(encodeURIComponent).join("/");
  return `${hubEndpoint.replace(/\/+$/, "")}/${repo}/blob/${commit}/${encoded}`;
}
