import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate } from "@tanstack/react-router";
import { useState, type FormEvent } from "react";
import { api, keys } from "../api/client";
import type { WorkspaceSummary } from "../api/types";
import { ErrorNotice } from "../components/ErrorNotice";
import { PageHeading } from "../components/PageHeading";
import { TextField } from "../components/TextField";
import { Time } from "../components/Time";
import { Trail } from "../components/Trail";
import { DeleteButton } from "../components/DeleteButton";
import { IntegrationForm } from "./IntegrationForm";
import { ApiKeys } from "./manage/ApiKeys";
import { EditForm } from "./manage/EditForm";
import { Webhooks } from "./manage/Webhooks";
import { IntegrationList } from "./IntegrationList";

/** A workspace's summary: its projects with models counted by latest severity, and its integrations. */
export function WorkspacePage({ workspaceId }: { workspaceId: string }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const summary = useQuery({ queryKey: keys.workspace(workspaceId), queryFn: () => api.workspace(workspaceId) });
  const ws = summary.data;
  return (
    <>
      <Trail current={ws?.name ?? "Workspace"} />
      <PageHeading title={ws?.name ?? "Workspace"}>
        {ws && (
          <>
            Workspace created <Time iso={ws.created_at} />
          </>
        )}
      </PageHeading>
      <ErrorNotice error={summary.error} title="Could not load the workspace" />
      {summary.isPending && <p aria-busy="true">Loading the workspace…</p>}
      {ws && (
        <>
          <section aria-labelledby="projects">
            <h2 id="projects">Projects</h2>
            <ProjectTable projects={ws.projects} />
            <CreateProject workspaceId={workspaceId} />
          </section>
          <section aria-labelledby="integrations">
            <h2 id="integrations">Integrations</h2>
            <p>
              Credentials a model uses to reach the Hugging Face Hub (a field named <code>HUGGINGFACE_API_TOKEN</code>
              ). Secret values are write-only: stored encrypted and never shown again.
            </p>
            <IntegrationList integrations={ws.integrations} />
            <IntegrationForm workspaceId={workspaceId} />
          </section>
          <ApiKeys workspaceId={workspaceId} />
          <Webhooks workspaceId={workspaceId} />
          <section aria-labelledby="manage-workspace" className="manage">
            <h2 id="manage-workspace">Workspace settings</h2>
            <EditForm
              key={ws.name}
              title="Rename workspace"
              fields={[{ key: "name", label: "Workspace name", value: ws.name, required: true }]}
              onSave={async (changes) => {
                await api.renameWorkspace(workspaceId, changes.name!);
                await Promise.all([
                  queryClient.invalidateQueries({ queryKey: keys.workspace(workspaceId) }),
                  queryClient.invalidateQueries({ queryKey: keys.workspaces }),
                ]);
              }}
            />
            <DeleteButton
              what={`workspace ${ws.name}`}
              consequence="Its projects, models, scans, integrations and API keys are deleted too. Only an admin key can do this."
              onDelete={() => api.deleteWorkspace(workspaceId)}
              onDeleted={async () => {
                queryClient.removeQueries({ queryKey: keys.workspace(workspaceId) });
                await queryClient.invalidateQueries({ queryKey: keys.workspaces });
                await navigate({ to: "/workspaces" });
              }}
            />
          </section>
        </>
      )}
    </>
  );
}

function ProjectTable({ projects }: { projects: WorkspaceSummary["projects"] }) {
  if (projects.length === 0) return <p>No projects yet.</p>;
  return (
    <div className="overflow-auto" role="region" aria-label="Projects table" tabIndex={0}>
      <table className="striped stack">
        <caption className="visually-hidden">Projects and their models by latest File Scan severity</caption>
        <thead>
          <tr>
            <th scope="col">Project</th>
            <th scope="col" className="num">
              Models
            </th>
            <th scope="col" className="num">
              <span aria-hidden="true">✖ </span>Alert
            </th>
            <th scope="col" className="num">
              <span aria-hidden="true">▲ </span>Warning
            </th>
            <th scope="col" className="num">
              <span aria-hidden="true">✔ </span>Pass
            </th>
            <th scope="col" className="num">
              Not scanned
            </th>
          </tr>
        </thead>
        <tbody>
          {projects.map((p) => (
            <tr key={p.project_id}>
              <th scope="row">
                <Link to="/projects/$projectId" params={{ projectId: p.project_id }}>
                  {p.name}
                </Link>
                {p.description && <small className="block muted">{p.description}</small>}
              </th>
              <td className="num" data-label="Models">
                {p.models}
              </td>
              <td className={`num ${p.models_by_severity.alert ? "cell-alert" : ""}`} data-label="✖ Alert">
                {p.models_by_severity.alert}
              </td>
              <td className={`num ${p.models_by_severity.warning ? "cell-warning" : ""}`} data-label="▲ Warning">
                {p.models_by_severity.warning}
              </td>
              <td className="num" data-label="✔ Pass">
                {p.models_by_severity.pass}
              </td>
              <td className="num" data-label="Not scanned">
                {p.models_by_severity.unscanned}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function CreateProject({ workspaceId }: { workspaceId: string }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const create = useMutation({
    mutationFn: () => api.createProject(workspaceId, name.trim(), description.trim()),
    onSuccess: async (project) => {
      await queryClient.invalidateQueries({ queryKey: keys.workspace(workspaceId) });
      await navigate({ to: "/projects/$projectId", params: { projectId: project.project_id } });
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    if (name.trim() && !create.isPending) create.mutate();
  }
  return (
    <details className="create">
      <summary role="button" className="outline">
        Create a project
      </summary>
      <form onSubmit={submit} aria-label="Create a project">
        <div className="grid">
          <TextField
            label="Project name"
            required
            maxLength={200}
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
          <TextField
            label="Description (optional)"
            maxLength={2000}
            value={description}
            onChange={(e) => setDescription(e.target.value)}
          />
        </div>
        <ErrorNotice error={create.error} title="Could not create the project" />
        <button type="submit" aria-busy={create.isPending}>
          Create project
        </button>
      </form>
    </details>
  );
}
