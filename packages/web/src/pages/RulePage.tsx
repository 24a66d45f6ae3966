import { useQuery } from "@tanstack/react-query";
import { api, keys } from "../api/client";
import { ErrorNotice } from "../components/ErrorNotice";
import { safeHref } from "../components/format";
import { PageHeading } from "../components/PageHeading";
import { SeverityBadge } from "../components/SeverityBadge";
import { Trail } from "../components/Trail";

/**
 * A rule of the server's pack (GET /api/v1/rules/{id}): its severity, why, what it matches and what to read. The
 * words are the pack's, the same as `modelvet rules explain <id>` prints (shown in full below).
 */
export function RulePage({ ruleId }: { ruleId: string }) {
  const rule = useQuery({ queryKey: keys.rule(ruleId), queryFn: () => api.rule(ruleId), staleTime: 60_000 });
  const r = rule.data;
  return (
    <>
      <Trail current={`Rule ${ruleId}`} />
      <PageHeading title={ruleId}>{r ? `${r.kind === "import" ? "Import rule" : "Indicator"}` : "Rule"}</PageHeading>
      <ErrorNotice error={rule.error} title="Could not load the rule" />
      {rule.isPending && <p aria-busy="true">Loading the rule…</p>}
      {r && (
        <article className="rule-page">
          <dl className="details">
            <dt>Severity</dt>
            <dd>
              <SeverityBadge severity={r.severity} />
            </dd>
            <dt>Why</dt>
            <dd className="rule-reason">{r.reason || "(no reason given)"}</dd>
            {r.match && (
              <>
                <dt>Matches</dt>
                <dd>
                  <code>{r.match}</code> — <InlineCode text={r.match_meaning ?? ""} />
                </dd>
              </>
            )}
            {r.kind === "indicator" && (
              <>
                <dt>Matches</dt>
                <dd>A finding the file’s reader reports (not an import): see the reason above.</dd>
              </>
            )}
            <dt>References</dt>
            <dd>
              {r.references.length === 0 ? (
                "None."
              ) : (
                <ul className="references">
                  {r.references.map((url) => {
                    const href = safeHref(url);
                    return (
                      <li key={url}>
                        {href ? (
                          <a href={href} target="_blank" rel="noopener noreferrer">
                            {url}
                          </a>
                        ) : (
                          url
                        )}
                      </li>
                    );
                  })}
                </ul>
              )}
            </dd>
          </dl>
          <details>
            <summary>
              As <code>modelvet rules explain {r.id}</code> prints it
            </summary>
            <pre className="explanation">
              <code>{r.explanation}</code>
            </pre>
          </details>
        </article>
      )}
    </>
  );
}

/** The pack's sentences mark names with `backticks` (Markdown): show those as code, the rest as text. */
function InlineCode({ text }: { text: string }) {
  return <>{text.split(/`([^`]+)`/).map((part, i) => (i % 2 === 1 ? <code key={i}>{part}</code> : part))}</>;
}
