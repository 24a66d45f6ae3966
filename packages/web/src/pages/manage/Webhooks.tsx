import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, keys } from "../../api/client";
import type { Webhook } from "../../api/types";
import { ErrorNotice } from "../../components/ErrorNotice";
import { TextField } from "../../components/TextField";
import { Time } from "../../components/Time";

/**
 * The workspace's outbound webhooks: add one (URL and a write-only signing secret), list them, delete one, and
 * read each one's recent deliveries (state, attempts, the receiver's last status or error).
 */
export function Webhooks({ workspaceId }: { workspaceId: string }) {
  const queryClient = useQueryClient();
  const list = useQuery({ queryKey: keys.webhooks(workspaceId), queryFn: () => api.webhooks(workspaceId) });
  const [url, setUrl] = useState("");
  const [secret, setSecret] = useState("");
  const [description, setDescription] = useState("");
  const refresh = () => queryClient.invalidateQueries({ queryKey: keys.webhooks(workspaceId) });
  const create = useMutation({
    mutationFn: () => api.createWebhook(workspaceId, { url: url.trim(), secret, description: description.trim() }),
    onSuccess: async () => {
      setUrl("");
      setSecret("");
      setDescription("");
      await refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (webhookId: string) => api.deleteWebhook(workspaceId, webhookId),
    onSuccess: refresh,
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    if (url.trim() && secret && !create.isPending) create.mutate();
  }
  return (
    <section aria-labelledby="webhooks">
      <h2 id="webhooks">Webhooks</h2>
      <p>
        New Alerts, severity changes and failed scans of followed models are sent to these URLs as JSON, signed in the{" "}
        <code>X-Modelvet-Signature</code> header. The secret is write-only: stored encrypted and never shown again.
      </p>
      <form onSubmit={submit} aria-label="Add a webhook">
        <div className="grid">
          <TextField label="Webhook URL" required type="url" value={url} onChange={(e) => setUrl(e.target.value)} />
          <TextField
            label="Signing secret"
            required
            type="password"
            autoComplete="new-password"
            minLength={16}
            maxLength={256}
            value={secret}
            onChange={(e) => setSecret(e.target.value)}
          />
          <TextField
            label="What it is for (optional)"
            maxLength={200}
            value={description}
            onChange={(e) => setDescription(e.target.value)}
          />
        </div>
        <button type="submit" aria-busy={create.isPending}>
          Add webhook
        </button>
      </form>
      <ErrorNotice error={create.error} title="Could not add the webhook" />
      <ErrorNotice error={list.error} title="Could not load the webhooks" />
      <ErrorNotice error={remove.error} title="Could not delete the webhook" />
      {list.data && list.data.webhooks.length === 0 && <p>No webhooks yet.</p>}
      {list.data && list.data.webhooks.length > 0 && (
        <div>
          {list.data.webhooks.map((hook) => (
            <div key={hook.webhook_id}>
              <article aria-labelledby={`hook-${hook.webhook_id}`}>
                <h3 id={`hook-${hook.webhook_id}`}>
                  <code>{hook.url}</code>
                </h3>
                <small className="muted">
                  {hook.description ? `${hook.description} · ` : ""}added <Time iso={hook.created_at} />
                </small>
                <Deliveries workspaceId={workspaceId} hook={hook} />
                <button
                  type="button"
                  className="secondary outline compact"
                  aria-label={`Delete webhook ${hook.url}`}
                  aria-busy={remove.isPending && remove.variables === hook.webhook_id}
                  onClick={() => remove.mutate(hook.webhook_id)}
                >
                  Delete
                </button>
              </article>
            </div>
          ))}
        </div>
      )}
    </section>
  );
}

/** Recent deliveries of one webhook, refreshed while any is still pending. */
function Deliveries({ workspaceId, hook }: { workspaceId: string; hook: Webhook }) {
  const log = useQuery({
    queryKey: keys.deliveries(hook.webhook_id),
    queryFn: () => api.webhookDeliveries(workspaceId, hook.webhook_id),
    refetchInterval: (query) =>
      query.state.data?.deliveries.some((d) => d.state === "pending" || d.state === "delivering") ? 2000 : false,
  });
  const deliveries = log.data?.deliveries.slice(0, 20) ?? [];
  return (
    <>
      <ErrorNotice error={log.error} title="Could not load the deliveries" />
      {log.data && deliveries.length === 0 && <p>Nothing sent yet.</p>}
      {deliveries.length > 0 && (
        <div className="overflow-auto" role="region" aria-label={`Deliveries to ${hook.url}`} tabIndex={0}>
          <table className="striped">
            <caption className="visually-hidden">Recent deliveries, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">State</th>
                <th scope="col" className="num">
                  Attempts
                </th>
                <th scope="col">Last answer</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {deliveries.map((d) => (
                <tr key={d.delivery_id}>
                  <th scope="row">{d.event}</th>
                  <td>{d.state}</td>
                  <td className="num">{d.attempts}</td>
                  <td>{d.last_status !== null ? `HTTP ${d.last_status}` : (d.last_error ?? "—")}</td>
                  <td>
                    <Time iso={d.updated_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
