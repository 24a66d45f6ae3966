import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "@tanstack/react-router";
import { useState, type FormEvent } from "react";
import { api, keys } from "../../api/client";
import type { Model } from "../../api/types";
import { DeleteButton } from "../../components/DeleteButton";
import { ErrorNotice } from "../../components/ErrorNotice";
import { TextField } from "../../components/TextField";

/** Edit a model's name, revision and integration; delete it, keeping or dropping its scan history. */
export function ModelManage({ model }: { model: Model }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const integrations = useQuery({
    queryKey: keys.integrations(model.workspace_id),
    queryFn: () => api.integrations(model.workspace_id),
  });
  const hf = model.model_config.hugging_face;
  const [name, setName] = useState(model.name);
  const [revision, setRevision] = useState(hf.revision);
  const [integrationId, setIntegrationId] = useState(model.integration_id ?? "");
  const [keepHistory, setKeepHistory] = useState(false);
  const refresh = () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: keys.model(model.model_id) }),
      queryClient.invalidateQueries({ queryKey: keys.models(model.project_id) }),
      queryClient.invalidateQueries({ queryKey: keys.project(model.project_id) }),
      queryClient.invalidateQueries({ queryKey: keys.workspace(model.workspace_id) }),
    ]);
  const save = useMutation({
    mutationFn: () =>
      api.updateModel(model.model_id, {
        ...(name.trim() !== model.name ? { name: name.trim() } : {}),
        ...(revision.trim() !== hf.revision ? { revision: revision.trim() } : {}),
        ...(integrationId !== (model.integration_id ?? "") ? { integration_id: integrationId || null } : {}),
      }),
    onSuccess: refresh,
  });
  const changed =
    name.trim() !== model.name || revision.trim() !== hf.revision || integrationId !== (model.integration_id ?? "");
  function submit(event: FormEvent) {
    event.preventDefault();
    if (changed && name.trim() && revision.trim() && !save.isPending) save.mutate();
  }
  return (
    <section aria-labelledby="manage-model" className="manage">
      <h3 id="manage-model">Edit model</h3>
      <form onSubmit={submit} aria-label="Edit model">
        <div className="grid">
          <TextField
            label="Model name"
            required
            maxLength={200}
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
          <TextField
            label="Revision to scan"
            required
            maxLength={200}
            help="A branch, tag or commit of the Hub repository."
            value={revision}
            onChange={(e) => setRevision(e.target.value)}
          />
        </div>
        <label>
          Integration
          <select value={integrationId} onChange={(e) => setIntegrationId(e.target.value)}>
            <option value="">None (public repository)</option>
            {integrations.data?.integrations.map((i) => (
              <option key={i.integration_id} value={i.integration_id}>
                {i.name}
              </option>
            ))}
          </select>
        </label>
        <ErrorNotice error={save.error} title="Could not save the model" />
        {save.isSuccess && !changed && (
          <p role="status" className="muted">
            Saved.
          </p>
        )}
        <button type="submit" aria-busy={save.isPending} aria-disabled={!changed}>
          Save model
        </button>
      </form>
      <DeleteButton
        what={`model ${model.name}`}
        consequence={
          keepHistory
            ? "The model leaves the registry; its scans stay stored for the record."
            : "Its scans are deleted with it (the default)."
        }
        onDelete={() => api.deleteModel(model.model_id, keepHistory)}
        onDeleted={async () => {
          queryClient.removeQueries({ queryKey: keys.model(model.model_id) });
          await refresh();
          await navigate({ to: "/projects/$projectId/models", params: { projectId: model.project_id } });
        }}
      >
        <label>
          <input type="checkbox" checked={keepHistory} onChange={(e) => setKeepHistory(e.target.checked)} /> Keep its
          scan history
        </label>
      </DeleteButton>
    </section>
  );
}
