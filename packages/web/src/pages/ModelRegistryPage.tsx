import { useQuery } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { api, keys } from "../api/client";
import type { Model } from "../api/types";
import { ErrorNotice } from "../components/ErrorNotice";
import { PageHeading } from "../components/PageHeading";
import { ProjectNav } from "../components/ProjectNav";
import { ScanBadge } from "../components/SeverityBadge";
import { Time } from "../components/Time";
import { Trail } from "../components/Trail";
import { RegisterModelForm } from "./RegisterModelForm";

/** The project's models, each with the badge of its latest File Scan, and the form to register another. */
export function ModelRegistryPage({ projectId }: { projectId: string }) {
  const project = useQuery({ queryKey: keys.project(projectId), queryFn: () => api.project(projectId) });
  const models = useQuery({ queryKey: keys.models(projectId), queryFn: () => api.models(projectId) });
  const p = project.data;
  return (
    <>
      {/* The heading and the project's tabs say "Model Registry"; the trail stops at the project. */}
      <Trail workspaceId={p?.workspace_id} projectId={projectId} />
      <PageHeading title="Model Registry">{p ? `Models of ${p.name}` : undefined}</PageHeading>
      <ProjectNav projectId={projectId} />
      <ErrorNotice error={project.error ?? models.error} title="Could not load the models" />
      {models.isPending && <p aria-busy="true">Loading models…</p>}
      {models.data && <ModelTable models={models.data.models} />}
      {p && <RegisterModelForm projectId={projectId} workspaceId={p.workspace_id} />}
    </>
  );
}

function ModelTable({ models }: { models: Model[] }) {
  if (models.length === 0) return <p>No models registered yet.</p>;
  return (
    <div className="overflow-auto" role="region" aria-label="Models table" tabIndex={0}>
      <table className="striped stack">
        <caption className="visually-hidden">Registered models and their latest File Scan</caption>
        <thead>
          <tr>
            <th scope="col">Model</th>
            <th scope="col">Hugging Face repository</th>
            <th scope="col">Latest File Scan</th>
            <th scope="col">Scanned</th>
          </tr>
        </thead>
        <tbody>
          {models.map((m) => (
            <tr key={m.model_id}>
              <th scope="row">
                <Link to="/models/$modelId" params={{ modelId: m.model_id }}>
                  {m.name}
                </Link>
              </th>
              <td data-label="Repository">
                <code>{m.model_config.hugging_face.model_uri}</code>{" "}
                <small className="muted">@ {m.model_config.hugging_face.revision}</small>
              </td>
              <td data-label="Latest File Scan">
                <ScanBadge scan={m.latest_file_scan} />
              </td>
              <td data-label="Scanned">
                <Time iso={m.latest_file_scan?.finished_at ?? m.latest_file_scan?.created_at} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
