import { Link } from "@tanstack/react-router";

/** A rule id as a link to its page in the UI (reason, severity, what it matches, references). */
export function RuleLink({ id }: { id: string }) {
  return (
    <Link to="/rules/$ruleId" params={{ ruleId: id }} className="rule-link">
      <code>{id}</code>
    </Link>
  );
}
