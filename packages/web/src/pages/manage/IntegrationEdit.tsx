import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, keys } from "../../api/client";
import type { Integration, IntegrationField } from "../../api/types";
import { DeleteButton } from "../../components/DeleteButton";
import { ErrorNotice } from "../../components/ErrorNotice";
import { TextField } from "../../components/TextField";

/**
 * Rename an integration and replace field values. A SECRET's box starts empty and is never filled from the
 * server (which sends no value): left empty, the stored value stays; typed in, it replaces it.
 */
export function IntegrationEdit({ integration }: { integration: Integration }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState(integration.name);
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(integration.fields.map((f) => [f.name, f.sensitivity === "SECRET" ? "" : (f.value ?? "")])),
  );
  const [open, setOpen] = useState(false);
  const refresh = () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: keys.workspace(integration.workspace_id) }),
      queryClient.invalidateQueries({ queryKey: keys.integrations(integration.workspace_id) }),
    ]);
  const save = useMutation({
    mutationFn: () => {
      const schema: IntegrationField[] = integration.fields.map((f) => {
        const value = values[f.name] ?? "";
        // An empty secret box keeps the stored secret (no value sent); a public field sends what is shown.
        return f.sensitivity === "SECRET" && value === ""
          ? { name: f.name, sensitivity: f.sensitivity }
          : { name: f.name, sensitivity: f.sensitivity, value };
      });
      return api.updateIntegration(integration.integration_id, {
        ...(name.trim() !== integration.name ? { name: name.trim() } : {}),
        integration_schema: schema,
      });
    },
    onSuccess: async () => {
      setOpen(false);
      setValues((v) =>
        Object.fromEntries(
          integration.fields.map((f) => [f.name, f.sensitivity === "SECRET" ? "" : (v[f.name] ?? "")]),
        ),
      );
      await refresh();
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    if (name.trim() && !save.isPending) save.mutate();
  }
  return (
    <div className="manage-integration">
      <details open={open} onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
        <summary role="button" className="secondary outline compact">
          Edit {integration.name}
        </summary>
        <form onSubmit={submit} aria-label={`Edit integration ${integration.name}`}>
          <TextField
            label="Integration name"
            required
            maxLength={200}
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
          {integration.fields.map((f) => (
            <TextField
              key={f.name}
              label={f.sensitivity === "SECRET" ? `New value for ${f.name}` : f.name}
              type={f.sensitivity === "SECRET" ? "password" : "text"}
              autoComplete="off"
              help={
                f.sensitivity === "SECRET" ? "Leave empty to keep the stored secret (it is never shown)." : undefined
              }
              maxLength={8192}
              value={values[f.name] ?? ""}
              onChange={(e) => setValues((v) => ({ ...v, [f.name]: e.target.value }))}
            />
          ))}
          <ErrorNotice error={save.error} title="Could not save the integration" />
          <button type="submit" aria-busy={save.isPending}>
            Save integration changes
          </button>
        </form>
      </details>
      <DeleteButton
        what={`integration ${integration.name}`}
        consequence="Models still using it must be moved to another integration first; the server refuses otherwise."
        onDelete={() => api.deleteIntegration(integration.integration_id)}
        onDeleted={refresh}
      />
    </div>
  );
}
