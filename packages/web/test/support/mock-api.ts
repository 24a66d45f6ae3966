/// <reference types="node" />
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";
import type { FileScan, Integration, Model, Project, ScannedFile, ScanReport, Workspace } from "../../src/api/types.js";

/**
 * An in-memory stand-in for @modelvet/server's API (docs/API.md), serving the built UI with an SPA fallback like the
 * real server. The e2e test runs the real server; this one exists to reach states that are slow or awkward to
 * provoke there (a key revoked mid-session, a failed scan, outdated rules) and to step a scan's progress.
 */
export class MockApi {
  key = "mv_mock_admin_key";
  rulesVersion = "2026.12.01";
  readonly workspaces = new Map<string, Workspace>();
  readonly projects = new Map<string, Project>();
  readonly integrations = new Map<string, Integration & { secrets: Record<string, string> }>();
  readonly models = new Map<string, Model>();
  readonly scans = new Map<string, FileScan>();
  /** Model URI → what its scans do. Unlisted repositories pass. */
  readonly outcomes = new Map<string, "alert" | "fail">();
  /** While true, scans stay where they are (to look at a scan in progress). */
  paused = false;
  url = "";
  private server?: Server;

  constructor(private readonly distDir: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    if (!url.pathname.startsWith("/api/")) return this.serveStatic(url.pathname, res);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${this.key}`)
      return send(401, { error: "Unauthorized", message: "The API key is missing, unknown or revoked." });
    const body = req.method === "POST" ? await readJson(req) : {};
    const route = `${req.method} ${url.pathname.replace(/^\/api\/v1/, "")}`;
    const m = (re: RegExp) => re.exec(route);
    let hit: RegExpExecArray | null;
    const notFound = () => send(404, { error: "NotFound", message: "No such object." });
    const now = () => new Date().toISOString();

    if (route === "GET /rules") return send(200, { version: this.rulesVersion, rules: 120, indicators: 30 });
    if (route === "GET /settings")
      return send(200, { hub_endpoint: "https://huggingface.co", rules_version: this.rulesVersion });
    if ((hit = m(/^GET \/rules\/([^/]+)$/))) {
      if (hit[1] !== "deny-os") return notFound();
      return send(200, {
        id: "deny-os",
        kind: "import",
        match: "os.*",
        match_meaning: "the module `os` and everything under it.",
        severity: 3,
        severity_label: "Alert",
        reason: "Gives direct access to the operating system: runs shell commands.",
        references: ["https://docs.python.org/3/library/os.html", "javascript:alert(1)"],
        explanation: "# deny-os\n",
      });
    }
    if (route === "GET /workspaces") return send(200, { workspaces: [...this.workspaces.values()] });
    if (route === "POST /workspaces") {
      const w = { workspace_id: randomUUID(), name: String(body.name), created_at: now() };
      this.workspaces.set(w.workspace_id, w);
      return send(201, w);
    }
    if ((hit = m(/^GET \/workspaces\/([^/]+)$/))) {
      const w = this.workspaces.get(hit[1]!);
      if (!w) return notFound();
      const projects = [...this.projects.values()].filter((p) => p.workspace_id === w.workspace_id);
      return send(200, {
        ...w,
        projects: projects.map((p) => ({
          ...p,
          models: this.modelsOf(p.project_id).length,
          models_by_severity: this.counts(p.project_id),
        })),
        integrations: this.integrationsOf(w.workspace_id),
      });
    }
    if ((hit = m(/^(GET|POST) \/workspaces\/([^/]+)\/integrations$/))) {
      const workspaceId = hit[2]!;
      if (hit[1] === "GET") return send(200, { integrations: this.integrationsOf(workspaceId) });
      const schema = body.integration_schema as Array<{
        name: string;
        sensitivity: "SECRET" | "PUBLIC";
        value: string;
      }>;
      const integration = {
        integration_id: randomUUID(),
        workspace_id: workspaceId,
        name: String(body.name),
        integration_type: "CUSTOM" as const,
        created_at: now(),
        fields: schema.map((f) => ({ name: f.name, sensitivity: f.sensitivity })),
        secrets: Object.fromEntries(schema.map((f) => [f.name, f.value])),
      };
      this.integrations.set(integration.integration_id, integration);
      return send(201, publicIntegration(integration));
    }
    if (route === "POST /projects") {
      const p: Project = {
        project_id: randomUUID(),
        workspace_id: String(body.workspace_id),
        name: String(body.name),
        description: typeof body.description === "string" ? body.description : "",
        created_at: now(),
      };
      this.projects.set(p.project_id, p);
      return send(201, p);
    }
    if ((hit = m(/^GET \/projects\/([^/]+)$/))) {
      const p = this.projects.get(hit[1]!);
      return p ? send(200, { ...p, models_by_severity: this.counts(p.project_id) }) : notFound();
    }
    if ((hit = m(/^(GET|POST) \/projects\/([^/]+)\/models$/))) {
      const p = this.projects.get(hit[2]!);
      if (!p) return notFound();
      if (hit[1] === "GET") return send(200, { models: this.modelsOf(p.project_id).map((x) => this.withLatest(x)) });
      const hf = (body.model_config as Model["model_config"]).hugging_face;
      const model: Model = {
        model_id: randomUUID(),
        project_id: p.project_id,
        workspace_id: p.workspace_id,
        name: String(body.name),
        created_at: now(),
        integration_id: typeof body.integration_id === "string" ? body.integration_id : null,
        model_config: { hugging_face: { model_uri: hf.model_uri, revision: hf.revision || "main" } },
        latest_file_scan: null,
      };
      this.models.set(model.model_id, model);
      return send(201, model);
    }
    if ((hit = m(/^GET \/models\/([^/]+)$/))) {
      const model = this.models.get(hit[1]!);
      return model ? send(200, this.withLatest(model)) : notFound();
    }
    if ((hit = m(/^GET \/models\/([^/]+)\/file-scans$/))) {
      return send(200, { file_scans: this.scansOf(hit[1]!) });
    }
    if (route === "POST /file-scans") {
      const model = this.models.get(String(body.model_id));
      if (!model) return notFound();
      const scan: FileScan = {
        file_scan_id: "",
        job_id: "",
        model_id: model.model_id,
        project_id: model.project_id,
        workspace_id: model.workspace_id,
        status: "queued",
        progress: { files_done: 0, files_total: 0, bytes_read: 0 },
        error: null,
        ram_request_megabytes: null,
        created_at: now(),
        started_at: null,
        finished_at: null,
        severity: null,
        severity_label: null,
        rules_version: null,
        rules_outdated: false,
        commit: null,
        revision: null,
        reason: null,
      };
      scan.file_scan_id = scan.job_id = randomUUID();
      this.scans.set(scan.file_scan_id, scan);
      return send(202, scan);
    }
    if ((hit = m(/^GET \/file-scans\/([^/]+)$/))) {
      const scan = this.scans.get(hit[1]!);
      if (!scan) return notFound();
      this.step(scan);
      return send(200, scan);
    }
    if ((hit = m(/^POST \/file-scans\/([^/]+)\/rejudge$/))) {
      const scan = this.scans.get(hit[1]!);
      if (!scan) return notFound();
      scan.rules_version = this.rulesVersion;
      scan.rules_outdated = false;
      return send(200, scan);
    }
    notFound();
  }

  /** Each poll moves a scan one step: queued → running 0/2 → running 1/2 → finished, so progress is visible. */
  private step(scan: FileScan): void {
    if (this.paused || scan.status === "succeeded" || scan.status === "failed") return;
    const outcome = this.outcomes.get(this.models.get(scan.model_id)!.model_config.hugging_face.model_uri);
    if (scan.status === "queued") {
      scan.status = "running";
      scan.started_at = new Date().toISOString();
      scan.progress = { files_done: 0, files_total: 2, bytes_read: 0 };
    } else if (scan.progress.files_done === 0) {
      scan.progress = { files_done: 1, files_total: 2, bytes_read: 35 };
    } else if (outcome === "fail") {
      scan.status = "failed";
      scan.finished_at = new Date().toISOString();
      scan.error = "The Hub answered 401: the integration's HUGGINGFACE_API_TOKEN was rejected. Update the token.";
    } else {
      const result = report(outcome === "alert", this.rulesVersion);
      Object.assign(scan, {
        status: "succeeded",
        finished_at: new Date().toISOString(),
        progress: { files_done: 2, files_total: 2, bytes_read: 191 },
        severity: result.severity,
        severity_label: result.severity_label,
        rules_version: this.rulesVersion,
        commit: "0123456789abcdef0123456789abcdef01234567",
        result,
      });
    }
  }

  private modelsOf(projectId: string): Model[] {
    return [...this.models.values()].filter((x) => x.project_id === projectId);
  }

  private scansOf(modelId: string): FileScan[] {
    return [...this.scans.values()].filter((s) => s.model_id === modelId).reverse();
  }

  private withLatest(model: Model): Model {
    const latest = this.scansOf(model.model_id)[0] ?? null;
    return { ...model, latest_file_scan: latest ? { ...latest, result: undefined } : null };
  }

  private integrationsOf(workspaceId: string): Integration[] {
    return [...this.integrations.values()].filter((i) => i.workspace_id === workspaceId).map(publicIntegration);
  }

  private counts(projectId: string) {
    const c = { pass: 0, warning: 0, alert: 0, unscanned: 0 };
    for (const model of this.modelsOf(projectId)) {
      const severity = this.scansOf(model.model_id).find((s) => s.severity)?.severity;
      if (severity === 3) c.alert++;
      else if (severity === 2) c.warning++;
      else if (severity === 1) c.pass++;
      else c.unscanned++;
    }
    return c;
  }

  private async serveStatic(pathname: string, res: ServerResponse): Promise<void> {
    const types: Record<string, string> = { ".js": "text/javascript", ".css": "text/css", ".html": "text/html" };
    const file = normalize(join(this.distDir, pathname));
    const inside = file.startsWith(this.distDir) && extname(file) !== "";
    try {
      const bytes = await readFile(inside ? file : join(this.distDir, "index.html"));
      res.writeHead(200, { "Content-Type": types[inside ? extname(file) : ".html"] ?? "application/octet-stream" });
      res.end(bytes);
    } catch {
      res.writeHead(404).end();
    }
  }
}

function publicIntegration(i: Integration & { secrets?: unknown }): Integration {
  const { secrets: _secrets, ...rest } = i;
  return rest;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
}

function report(alert: boolean, rulesVersion: string): ScanReport {
  const scanned: ScannedFile[] = [
    { path: "model.pkl", severity: alert ? 3 : 1, formats: ["pickle"], bytes_read: 35, size: 35 },
    { path: "config.json", severity: 1, formats: [], bytes_read: 156, size: 156 },
  ];
  return {
    severity: alert ? 3 : 1,
    severity_label: alert ? "Alert" : "Pass",
    rules_version: rulesVersion,
    file_security_reports: alert
      ? [
          {
            path: "model.pkl",
            size: 35,
            formats: ["pickle"],
            severity: 3,
            unsafe_dependencies: [
              {
                module: "os",
                name: "system",
                severity: 3,
                rule: "deny-os",
                reason: "Gives direct access to the operating system: runs shell commands.",
                references: ["https://docs.python.org/3/library/os.html", "javascript:alert(1)"],
                locations: [{ offset: 23 }],
                call: "os.system('echo modelvet-test')",
              },
            ],
            // An indicator of the whole file: no member, no offset, so the UI shows no "Where" for it.
            indicators: [
              {
                id: "scan.limit",
                severity: 2,
                message: "more than 100000 opcodes; the rest of the stream was not read",
                reason: "A limit was reached: what was not read could hold code.",
                references: [],
                locations: [],
              },
            ],
            errors: [],
          },
        ]
      : [],
    scanned_files: scanned,
    stats: { files: 2, bytes_total: 191, bytes_read: 191, duration_ms: 12 },
  };
}
