import { useQuery } from "@tanstack/react-query";
import { useNavigate } from "@tanstack/react-router";
import { api, keys } from "../../api/client";
import type { Model } from "../../api/types";
import { ErrorNotice } from "../../components/ErrorNotice";
import { PageHeading } from "../../components/PageHeading";
import { ScanBadge } from "../../components/SeverityBadge";
import { Tabs } from "../../components/Tabs";
import { Time } from "../../components/Time";
import { Trail } from "../../components/Trail";
import { ModelManage } from "../manage/ModelManage";
import { FileScanTab } from "./FileScanTab";

export type ModelTab = "file-scan" | "details";

/** A model's page. The open tab is in the URL (?tab=), so a link can point straight at the File Scan results. */
export function ModelPage({ modelId, tab }: { modelId: string; tab: ModelTab }) {
  const navigate = useNavigate();
  const model = useQuery({ queryKey: keys.model(modelId), queryFn: () => api.model(modelId) });
  const m = model.data;
  const hf = m?.model_config.hugging_face;
  return (
    <>
      <Trail workspaceId={m?.workspace_id} projectId={m?.project_id} registry current={m?.name ?? "Model"} />
      <PageHeading title={m?.name ?? "Model"}>
        {hf && (
          <>
            <code>{hf.model_uri}</code> @ <code>{hf.revision}</code>
          </>
        )}
      </PageHeading>
      <ErrorNotice error={model.error} title="Could not load the model" />
      {model.isPending && <p aria-busy="true">Loading the model…</p>}
      {m && (
        <>
          <p className="latest-line">
            Latest File Scan: <ScanBadge scan={m.latest_file_scan} />
          </p>
          <Tabs
            label="Model"
            tabs={[
              { id: "file-scan", label: "File Scan" },
              { id: "details", label: "Details" },
            ]}
            selected={tab}
            onSelect={(next) =>
              void navigate({ to: "/models/$modelId", params: { modelId }, search: { tab: next }, replace: true })
            }
          >
            {tab === "file-scan" ? (
              <FileScanTab model={m} />
            ) : (
              <>
                <Details model={m} />
                <ModelManage key={JSON.stringify([m.name, m.model_config, m.integration_id])} model={m} />
              </>
            )}
          </Tabs>
        </>
      )}
    </>
  );
}

function Details({ model }: { model: Model }) {
  const integrations = useQuery({
    queryKey: keys.integrations(model.workspace_id),
    queryFn: () => api.integrations(model.workspace_id),
    enabled: Boolean(model.integration_id),
  });
  const integration = integrations.data?.integrations.find((i) => i.integration_id === model.integration_id);
  return (
    <dl className="details">
      <dt>Hugging Face repository</dt>
      <dd>
        <code>{model.model_config.hugging_face.model_uri}</code>
      </dd>
      <dt>Revision</dt>
      <dd>
        <code>{model.model_config.hugging_face.revision}</code>
      </dd>
      <dt>Integration</dt>
      <dd>{model.integration_id ? (integration?.name ?? model.integration_id) : "None (public repository)"}</dd>
      <dt>Registered</dt>
      <dd>
        <Time iso={model.created_at} />
      </dd>
      <dt>Model id (for the SDK and API)</dt>
      <dd>
        <code>{model.model_id}</code>
      </dd>
    </dl>
  );
}
