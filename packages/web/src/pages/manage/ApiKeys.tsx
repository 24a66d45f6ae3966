import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, keys } from "../../api/client";
import type { ApiKey } from "../../api/types";
import { ErrorNotice } from "../../components/ErrorNotice";
import { TextField } from "../../components/TextField";
import { Time } from "../../components/Time";

/**
 * The workspace's API keys: create one (shown once, here, and never again), list them by name, prefix and
 * creation time, revoke one. A key made here acts only within this workspace.
 */
export function ApiKeys({ workspaceId }: { workspaceId: string }) {
  const queryClient = useQueryClient();
  const list = useQuery({ queryKey: keys.apiKeys(workspaceId), queryFn: () => api.apiKeys(workspaceId) });
  const [name, setName] = useState("");
  const [created, setCreated] = useState<ApiKey | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: keys.apiKeys(workspaceId) });
  const create = useMutation({
    mutationFn: () => api.createApiKey(workspaceId, name.trim()),
    onSuccess: async (key) => {
      setCreated(key);
      setName("");
      await refresh();
    },
  });
  const revoke = useMutation({
    mutationFn: (keyId: string) => api.revokeApiKey(workspaceId, keyId),
    onSuccess: async (_, keyId) => {
      if (created?.key_id === keyId) setCreated(null);
      await refresh();
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    if (name.trim() && !create.isPending) create.mutate();
  }
  return (
    <section aria-labelledby="api-keys">
      <h2 id="api-keys">API keys</h2>
      <p>Keys for CI jobs and the SDKs. A key made here sees and changes only this workspace.</p>
      <form className="inline-form" onSubmit={submit} aria-label="Create an API key">
        <TextField label="Key name" required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
        <button type="submit" aria-busy={create.isPending}>
          Create key
        </button>
      </form>
      <ErrorNotice error={create.error} title="Could not create the key" />
      {created && (
        <div className="notice notice-ok new-key" role="status">
          <p>
            <strong>New key “{created.name}”</strong> — copy it now: it is shown only this once.
          </p>
          <code aria-label="The new API key">{created.api_key}</code>
        </div>
      )}
      <ErrorNotice error={list.error} title="Could not load the keys" />
      <ErrorNotice error={revoke.error} title="Could not revoke the key" />
      {list.data && list.data.api_keys.length === 0 && <p>No keys yet.</p>}
      {list.data && list.data.api_keys.length > 0 && (
        <table className="keys-table">
          <caption className="visually-hidden">API keys of this workspace</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Starts with</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data.api_keys.map((k) => (
              <tr key={k.key_id}>
                <th scope="row">{k.name}</th>
                <td>
                  <code>{k.prefix ? `${k.prefix}…` : "—"}</code>
                </td>
                <td>
                  <Time iso={k.created_at} />
                </td>
                <td>
                  <button
                    type="button"
                    className="secondary outline compact"
                    aria-label={`Revoke ${k.name}`}
                    aria-busy={revoke.isPending && revoke.variables === k.key_id}
                    onClick={() => revoke.mutate(k.key_id)}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
