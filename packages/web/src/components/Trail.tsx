import { useQuery } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { api, keys } from "../api/client";

/**
 * Breadcrumbs (Workspaces › workspace › project › …) so a person deep in a model always sees, and can go back to,
 * where it belongs. Names come from cached queries; an id stands in until they arrive.
 */
// Ancestors use exact matching so none of them claims aria-current (the last, unlinked item is the page).
export function Trail({
  workspaceId,
  projectId,
  registry,
  current,
}: {
  workspaceId?: string;
  projectId?: string;
  /** Adds the project's Model Registry step (on a model's page). */
  registry?: boolean;
  /** The page itself, unlinked; left out where the page's heading and sub-navigation already name it. */
  current?: string;
}) {
  const workspace = useQuery({
    queryKey: keys.workspace(workspaceId ?? ""),
    queryFn: () => api.workspace(workspaceId!),
    enabled: Boolean(workspaceId),
  });
  const project = useQuery({
    queryKey: keys.project(projectId ?? ""),
    queryFn: () => api.project(projectId!),
    enabled: Boolean(projectId),
  });
  return (
    <nav aria-label="Breadcrumb" className="trail">
      <ol>
        <li>
          <Link to="/workspaces" activeOptions={{ exact: true }}>
            Workspaces
          </Link>
        </li>
        {workspaceId && (
          <li>
            <Link to="/workspaces/$workspaceId" params={{ workspaceId }} activeOptions={{ exact: true }}>
              {workspace.data?.name ?? "Workspace"}
            </Link>
          </li>
        )}
        {projectId && (
          <li>
            <Link to="/projects/$projectId" params={{ projectId }} activeOptions={{ exact: true }}>
              {project.data?.name ?? "Project"}
            </Link>
          </li>
        )}
        {projectId && registry && (
          <li>
            <Link to="/projects/$projectId/models" params={{ projectId }}>
              Model Registry
            </Link>
          </li>
        )}
        {current && <li aria-current="page">{current}</li>}
      </ol>
    </nav>
  );
}
