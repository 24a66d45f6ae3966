import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "@tanstack/react-router";
import { useState, type FormEvent } from "react";
import { api, keys } from "../api/client";
import { ErrorNotice } from "../components/ErrorNotice";
import { TextField } from "../components/TextField";

/** Registers a Hugging Face model: repository, revision, and the integration whose token reads it (if private). */
export function RegisterModelForm({ projectId, workspaceId }: { projectId: string; workspaceId: string }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const integrations = useQuery({
    queryKey: keys.integrations(workspaceId),
    queryFn: () => api.integrations(workspaceId),
  });
  const [name, setName] = useState("");
  const [modelUri, setModelUri] = useState("");
  const [revision, setRevision] = useState("main");
  const [integrationId, setIntegrationId] = useState("");

  const register = useMutation({
    mutationFn: () =>
      api.registerModel(projectId, {
        name: name.trim() || modelUri.trim(),
        modelUri: modelUri.trim(),
        revision: revision.trim(),
        integrationId: integrationId || null,
      }),
    onSuccess: async (model) => {
      await queryClient.invalidateQueries({ queryKey: keys.models(projectId) });
      await queryClient.invalidateQueries({ queryKey: keys.project(projectId) });
      await queryClient.invalidateQueries({ queryKey: keys.workspace(workspaceId) });
      // Straight to the model: the next thing to do with a new model is to scan it.
      await navigate({ to: "/models/$modelId", params: { modelId: model.model_id } });
    },
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!register.isPending) register.mutate();
  }

  return (
    <section aria-labelledby="register-model">
      <h2 id="register-model">Register a Hugging Face model</h2>
      <form onSubmit={submit}>
        <div className="grid">
          <TextField
            label="Hugging Face repository"
            help="As on the Hub: organisation/name"
            placeholder="org/model"
            required
            pattern="[A-Za-z0-9_.\-]+/[A-Za-z0-9_.\-]+"
            title="organisation/name, e.g. openai-community/gpt2"
            spellCheck={false}
            autoCapitalize="off"
            value={modelUri}
            onChange={(e) => setModelUri(e.target.value)}
          />
          <TextField
            label="Revision"
            help="Branch, tag or commit"
            required
            spellCheck={false}
            autoCapitalize="off"
            value={revision}
            onChange={(e) => setRevision(e.target.value)}
          />
        </div>
        <div className="grid">
          <TextField
            label="Display name (optional)"
            help="Defaults to the repository"
            maxLength={200}
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
          <label>
            Integration
            <select
              value={integrationId}
              onChange={(e) => setIntegrationId(e.target.value)}
              aria-describedby="integration-help"
            >
              <option value="">None (public repository)</option>
              {integrations.data?.integrations.map((i) => (
                <option key={i.integration_id} value={i.integration_id}>
                  {i.name}
                </option>
              ))}
            </select>
            <small id="integration-help">Supplies the Hub token for private or gated repositories.</small>
          </label>
        </div>
        <ErrorNotice error={integrations.error} title="Could not load the integrations" />
        <ErrorNotice error={register.error} title="Could not register the model" />
        <button type="submit" aria-busy={register.isPending}>
          Register model
        </button>
      </form>
    </section>
  );
}
