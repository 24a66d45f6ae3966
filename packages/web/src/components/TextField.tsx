import { useId, type InputHTMLAttributes } from "react";

/** A labelled input with optional help text tied to it by aria-describedby. */
export function TextField({
  label,
  help,
  ...input
}: { label: string; help?: string } & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  return (
    <label htmlFor={id}>
      {label}
      <input id={id} aria-describedby={help ? `${id}-help` : undefined} {...input} />
      {help && <small id={`${id}-help`}>{help}</small>}
    </label>
  );
}
