import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { TextField } from "../../components/TextField";

export interface EditField {
  key: string;
  label: string;
  value: string;
  required?: boolean;
  maxLength?: number;
}

/** A folded "Edit" form of text fields; sends only the fields that changed. */
export function EditForm({
  title,
  fields,
  onSave,
}: {
  title: string;
  fields: EditField[];
  onSave: (changes: Record<string, string>) => Promise<unknown>;
}) {
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(fields.map((f) => [f.key, f.value])),
  );
  const [open, setOpen] = useState(false);
  const save = useMutation({ mutationFn: onSave, onSuccess: () => setOpen(false) });
  const changes = Object.fromEntries(
    fields.filter((f) => values[f.key]!.trim() !== f.value).map((f) => [f.key, values[f.key]!.trim()]),
  );
  function submit(event: FormEvent) {
    event.preventDefault();
    if (Object.keys(changes).length > 0 && !save.isPending) save.mutate(changes);
    else setOpen(false);
  }
  return (
    <details className="create" open={open} onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary role="button" className="secondary outline">
        {title}
      </summary>
      <form onSubmit={submit} aria-label={title}>
        {fields.map((f) => (
          <TextField
            key={f.key}
            label={f.label}
            required={f.required}
            maxLength={f.maxLength ?? 200}
            value={values[f.key]}
            onChange={(e) => setValues((v) => ({ ...v, [f.key]: e.target.value }))}
          />
        ))}
        <ErrorNotice error={save.error} title="Could not save" />
        <button type="submit" aria-busy={save.isPending}>
          Save changes
        </button>
      </form>
    </details>
  );
}
