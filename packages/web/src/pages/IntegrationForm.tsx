import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";
import { api, keys } from "../api/client";
import type { Sensitivity } from "../api/types";
import { ErrorNotice } from "../components/ErrorNotice";
import { TextField } from "../components/TextField";

interface Row {
  key: number;
  name: string;
  sensitivity: Sensitivity;
  value: string;
}

let nextKey = 0;
const emptyRow = (name = ""): Row => ({ key: nextKey++, name, sensitivity: "SECRET", value: "" });

/**
 * Creates a CUSTOM integration: a name plus fields. SECRET values are typed into password inputs and dropped from
 * the form's state as soon as the server has them, so nothing keeps them in the page after saving.
 */
export function IntegrationForm({ workspaceId }: { workspaceId: string }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [rows, setRows] = useState<Row[]>(() => [emptyRow("HUGGINGFACE_API_TOKEN")]);
  const [saved, setSaved] = useState<string | null>(null);
  const addButton = useRef<HTMLButtonElement>(null);
  const form = useRef<HTMLFormElement>(null);

  const create = useMutation({
    mutationFn: () =>
      api.createIntegration(
        workspaceId,
        name.trim(),
        rows.map(({ name, sensitivity, value }) => ({ name: name.trim(), sensitivity, value })),
      ),
    onSuccess: async (integration) => {
      setName("");
      setRows([emptyRow("HUGGINGFACE_API_TOKEN")]);
      setSaved(
        `Integration “${integration.name}” saved. Its secret values are stored encrypted and cannot be read back.`,
      );
      await queryClient.invalidateQueries({ queryKey: keys.workspace(workspaceId) });
      await queryClient.invalidateQueries({ queryKey: keys.integrations(workspaceId) });
    },
  });

  function update(key: number, patch: Partial<Row>) {
    setRows((current) => current.map((row) => (row.key === key ? { ...row, ...patch } : row)));
  }

  function addRow() {
    setRows((current) => [...current, emptyRow()]);
    // Put the person in the new row's first input (rendered on the next frame).
    requestAnimationFrame(() => {
      form.current?.querySelector<HTMLInputElement>(".field-row:last-of-type input")?.focus();
    });
  }

  function removeRow(key: number) {
    setRows((current) => current.filter((row) => row.key !== key));
    // The Remove button disappears with its row; keep focus in the form rather than dropping it to the page.
    addButton.current?.focus();
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    setSaved(null);
    if (!create.isPending) create.mutate();
  }

  return (
    <details className="create">
      <summary role="button" className="outline">
        Add an integration
      </summary>
      <form ref={form} onSubmit={submit} aria-label="Add an integration">
        <TextField
          label="Integration name"
          required
          maxLength={200}
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
        <fieldset>
          <legend>Fields</legend>
          {rows.map((row, index) => (
            <div className="field-row grid" key={row.key} role="group" aria-label={`Field ${index + 1}`}>
              <TextField
                label="Field name"
                required
                pattern="[A-Za-z_][A-Za-z0-9_]*"
                title="Letters, digits and underscores, e.g. HUGGINGFACE_API_TOKEN"
                value={row.name}
                onChange={(e) => update(row.key, { name: e.target.value })}
              />
              <label>
                Sensitivity
                <select
                  value={row.sensitivity}
                  onChange={(e) => update(row.key, { sensitivity: e.target.value as Sensitivity })}
                >
                  <option value="SECRET">Secret (write-only)</option>
                  <option value="PUBLIC">Public</option>
                </select>
              </label>
              <TextField
                label="Value"
                required
                type={row.sensitivity === "SECRET" ? "password" : "text"}
                autoComplete="new-password"
                spellCheck={false}
                value={row.value}
                onChange={(e) => update(row.key, { value: e.target.value })}
              />
              <div className="field-remove">
                <button
                  type="button"
                  className="secondary outline"
                  onClick={() => removeRow(row.key)}
                  disabled={rows.length === 1}
                  aria-label={`Remove field ${index + 1}`}
                >
                  Remove
                </button>
              </div>
            </div>
          ))}
          <button type="button" className="secondary" ref={addButton} onClick={addRow}>
            Add field
          </button>
        </fieldset>
        <ErrorNotice error={create.error} title="Could not save the integration" />
        {saved && (
          <p role="status" className="notice notice-ok">
            {saved}
          </p>
        )}
        <button type="submit" aria-busy={create.isPending}>
          Save integration
        </button>
      </form>
    </details>
  );
}
