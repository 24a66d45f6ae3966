import type { SeverityCounts as Counts } from "../api/types";

/** Models by their latest File Scan, worst first: the order a reviewer works through them. */
export function SeverityCounts({ counts }: { counts: Counts | undefined }) {
  const c = counts ?? { alert: 0, warning: 0, pass: 0, unscanned: 0 };
  const items = [
    { label: "Alert", value: c.alert, tone: "alert", icon: "✖" },
    { label: "Warning", value: c.warning, tone: "warning", icon: "▲" },
    { label: "Pass", value: c.pass, tone: "pass", icon: "✔" },
    { label: "Not scanned", value: c.unscanned, tone: "none", icon: "○" },
  ];
  return (
    <ul className="counts" aria-label="Models by latest File Scan severity">
      {items.map((item) => (
        <li key={item.label} className={`count count-${item.tone}`}>
          <span className="count-value">{item.value}</span>{" "}
          <span className="count-label">
            <span aria-hidden="true">{item.icon}</span> {item.label}
          </span>
        </li>
      ))}
    </ul>
  );
}
