import type { Integration } from "../api/types";
import { Time } from "../components/Time";
import { IntegrationEdit } from "./manage/IntegrationEdit";

/** Integrations with their fields. A SECRET field shows that it is set, never a value (the server sends none). */
export function IntegrationList({ integrations }: { integrations: Integration[] }) {
  if (integrations.length === 0) return <p>No integrations yet.</p>;
  return (
    <ul className="cards">
      {integrations.map((integration) => (
        <li key={integration.integration_id}>
          <article aria-labelledby={`int-${integration.integration_id}`}>
            <h3 id={`int-${integration.integration_id}`}>{integration.name}</h3>
            <small className="muted">
              {integration.integration_type} · created <Time iso={integration.created_at} />
            </small>
            <dl className="fields">
              {integration.fields.map((field) => (
                <div key={field.name}>
                  <dt>
                    <code>{field.name}</code>
                  </dt>
                  <dd>
                    {field.sensitivity === "SECRET" ? (
                      <span className="secret">
                        <span aria-hidden="true">•••••• </span>Secret, write-only (set; not shown)
                      </span>
                    ) : (
                      <code>{field.value ?? ""}</code>
                    )}
                  </dd>
                </div>
              ))}
            </dl>
            <IntegrationEdit key={JSON.stringify(integration)} integration={integration} />
          </article>
        </li>
      ))}
    </ul>
  );
}
