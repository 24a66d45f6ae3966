import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate } from "@tanstack/react-router";
import { api, keys } from "../api/client";
import type { Model } from "../api/types";
import { ErrorNotice } from "../components/ErrorNotice";
import { PageHeading } from "../components/PageHeading";
import { ProjectNav } from "../components/ProjectNav";
import { SeverityCounts } from "../components/SeverityCounts";
import { ScanBadge } from "../components/SeverityBadge";
import { DeleteButton } from "../components/DeleteButton";
import { Trail } from "../components/Trail";
import { EditForm } from "./manage/EditForm";

/** A project's overview: how its models stand, and which ones need a reviewer first. */
export function ProjectPage({ projectId }: { projectId: string }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const project = useQuery({ queryKey: keys.project(projectId), queryFn: () => api.project(projectId) });
  const models = useQuery({ queryKey: keys.models(projectId), queryFn: () => api.models(projectId) });
  const p = project.data;
  return (
    <>
      <Trail workspaceId={p?.workspace_id} current={p?.name ?? "Project"} />
      <PageHeading title={p?.name ?? "Project"}>{p?.description || "Project overview"}</PageHeading>
      <ProjectNav projectId={projectId} />
      <ErrorNotice error={project.error} title="Could not load the project" />
      {project.isPending && <p aria-busy="true">Loading the project…</p>}
      {p && (
        <section aria-labelledby="standing">
          <h2 id="standing">Models by latest File Scan</h2>
          <SeverityCounts counts={p.models_by_severity} />
        </section>
      )}
      <section aria-labelledby="attention">
        <h2 id="attention">Needs attention</h2>
        <ErrorNotice error={models.error} title="Could not load the models" />
        {models.data && <Attention models={models.data.models} projectId={projectId} />}
      </section>
      {p && (
        <section aria-labelledby="manage-project" className="manage">
          <h2 id="manage-project">Project settings</h2>
          <EditForm
            key={`${p.name}\n${p.description}`}
            title="Edit project"
            fields={[
              { key: "name", label: "Project name", value: p.name, required: true },
              { key: "description", label: "Description", value: p.description ?? "", maxLength: 2000 },
            ]}
            onSave={async (changes) => {
              await api.updateProject(projectId, changes);
              await Promise.all([
                queryClient.invalidateQueries({ queryKey: keys.project(projectId) }),
                queryClient.invalidateQueries({ queryKey: keys.workspace(p.workspace_id) }),
              ]);
            }}
          />
          <DeleteButton
            what={`project ${p.name}`}
            consequence="Its models and all their scans are deleted too."
            onDelete={() => api.deleteProject(projectId)}
            onDeleted={async () => {
              queryClient.removeQueries({ queryKey: keys.project(projectId) });
              await queryClient.invalidateQueries({ queryKey: keys.workspace(p.workspace_id) });
              await navigate({ to: "/workspaces/$workspaceId", params: { workspaceId: p.workspace_id } });
            }}
          />
        </section>
      )}
    </>
  );
}

function needsAttention(model: Model): boolean {
  const scan = model.latest_file_scan;
  return !scan || scan.status === "failed" || (scan.severity ?? 0) >= 2;
}

function Attention({ models, projectId }: { models: Model[]; projectId: string }) {
  // Worst first: Alert, Warning, failed scans, then models never scanned.
  const rank = (m: Model) =>
    m.latest_file_scan?.severity ? -m.latest_file_scan.severity : m.latest_file_scan?.status === "failed" ? 0 : 1;
  const list = models.filter(needsAttention).sort((a, b) => rank(a) - rank(b));
  if (models.length === 0)
    return (
      <p>
        No models yet. Register one in the{" "}
        <Link to="/projects/$projectId/models" params={{ projectId }}>
          Model Registry
        </Link>
        .
      </p>
    );
  if (list.length === 0) return <p>Every model passed its latest File Scan.</p>;
  return (
    <ul className="attention">
      {list.map((m) => (
        <li key={m.model_id}>
          <ScanBadge scan={m.latest_file_scan} />{" "}
          <Link to="/models/$modelId" params={{ modelId: m.model_id }}>
            {m.name}
          </Link>{" "}
          <small className="muted">{m.model_config.hugging_face.model_uri}</small>
        </li>
      ))}
    </ul>
  );
}
