import type { FileScan } from "../../api/types";
import { formatBytes, plural, shortCommit } from "../../components/format";
import { Time } from "../../components/Time";

/** When, with which rules, at which commit, and how much was read: what a reviewer cites when acting on a result. */
export function ScanFacts({ scan }: { scan: FileScan }) {
  const stats = scan.result?.stats;
  return (
    <dl className="facts">
      <div>
        <dt>Scanned</dt>
        <dd>
          <Time iso={scan.finished_at ?? scan.created_at} />
        </dd>
      </div>
      <div>
        <dt>Rules version</dt>
        <dd>
          <code>{scan.rules_version ?? "—"}</code>
          {scan.rules_outdated && (
            <>
              {" "}
              <span className="tag tag-warn">outdated rules</span>
            </>
          )}
        </dd>
      </div>
      <div>
        <dt>Commit</dt>
        <dd>
          <code title={scan.commit ?? undefined}>{shortCommit(scan.commit)}</code>
        </dd>
      </div>
      {stats && (
        <div>
          <dt>Files</dt>
          <dd>
            {plural(stats.files, "file")}, read {formatBytes(stats.bytes_read)} of {formatBytes(stats.bytes_total)}
            {stats.cached_files ? ` (${stats.cached_files} from cache)` : ""}
          </dd>
        </div>
      )}
    </dl>
  );
}
