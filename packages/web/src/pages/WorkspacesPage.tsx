import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate } from "@tanstack/react-router";
import { useState, type FormEvent } from "react";
import { api, keys } from "../api/client";
import { ErrorNotice } from "../components/ErrorNotice";
import { PageHeading } from "../components/PageHeading";
import { TextField } from "../components/TextField";
import { Time } from "../components/Time";

export function WorkspacesPage() {
  const workspaces = useQuery({ queryKey: keys.workspaces, queryFn: () => api.listWorkspaces() });
  return (
    <>
      <PageHeading title="Workspaces">
        Each workspace holds projects, their models and the integrations they use.
      </PageHeading>
      <section aria-labelledby="workspace-list">
        <h2 id="workspace-list">Your workspaces</h2>
        <ErrorNotice error={workspaces.error} title="Could not load workspaces" />
        {workspaces.isPending && <p aria-busy="true">Loading workspaces…</p>}
        {workspaces.data &&
          (workspaces.data.workspaces.length === 0 ? (
            <p>No workspaces yet. Create the first one below.</p>
          ) : (
            <ul className="cards">
              {workspaces.data.workspaces.map((w) => (
                <li key={w.workspace_id}>
                  <article>
                    <h3>
                      <Link to="/workspaces/$workspaceId" params={{ workspaceId: w.workspace_id }}>
                        {w.name}
                      </Link>
                    </h3>
                    <small>
                      Created <Time iso={w.created_at} />
                    </small>
                  </article>
                </li>
              ))}
            </ul>
          ))}
      </section>
      <CreateWorkspace />
    </>
  );
}

/** Only an admin key may create workspaces; for a workspace key the server's 403 message says so. */
function CreateWorkspace() {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState("");
  const create = useMutation({
    mutationFn: () => api.createWorkspace(name.trim()),
    onSuccess: async (workspace) => {
      await queryClient.invalidateQueries({ queryKey: keys.workspaces });
      await navigate({ to: "/workspaces/$workspaceId", params: { workspaceId: workspace.workspace_id } });
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    if (name.trim() && !create.isPending) create.mutate();
  }
  return (
    <section aria-labelledby="create-workspace">
      <h2 id="create-workspace">Create a workspace</h2>
      <form onSubmit={submit}>
        <TextField
          label="Workspace name"
          required
          maxLength={200}
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
        <ErrorNotice error={create.error} title="Could not create the workspace" />
        <button type="submit" aria-busy={create.isPending}>
          Create workspace
        </button>
      </form>
    </section>
  );
}
