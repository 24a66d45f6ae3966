import { Link } from "@tanstack/react-router";

/** The project's two views. aria-current (which TanStack's Link sets when active) tells which one is open, not only its style. */
export function ProjectNav({ projectId }: { projectId: string }) {
  return (
    <nav aria-label="Project" className="subnav">
      <ul>
        <li>
          <Link to="/projects/$projectId" params={{ projectId }} activeOptions={{ exact: true }}>
            Overview
          </Link>
        </li>
        <li>
          <Link to="/projects/$projectId/models" params={{ projectId }}>
            Model Registry
          </Link>
        </li>
      </ul>
    </nav>
  );
}
