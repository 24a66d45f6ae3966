import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A tiny in-memory stand-in for the modelvet API (docs/API.md), on loopback, for the SDK's edge cases that a real
 * server cannot be made to produce on demand (5xx, redirects, silence). It records every request, answers 401 to a
 * wrong key and 404 to an unknown id, and walks each file scan queued → running → succeeded one poll at a time.
 * `script` queues canned answers (status, body) for a path.
 */
export const REPORT = {
  severity: 3,
  severity_label: "Alert",
  rules_version: "test",
  file_security_reports: [
    {
      path: "pytorch_model.bin",
      severity: 3,
      unsafe_dependencies: [{ module: "os", name: "system", severity: 3, rule: "deny-os" }],
      indicators: [],
      errors: [],
    },
  ],
  scanned_files: [{ path: "pytorch_model.bin", severity: 3 }],
  stats: { files: 1 },
};

type Obj = Record<string, unknown>;
export interface Recorded {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: Obj | undefined;
}

export class FakeApi {
  readonly requests: Recorded[] = [];
  readonly script = new Map<string, Array<[number, unknown]>>();
  pollsUntilDone = 2;
  url = "";
  private readonly objects = new Map<string, Obj>();
  private readonly polls = new Map<string, number>();
  private server?: Server;

  constructor(readonly apiKey = "mv_test_key") {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let raw = "";
      req.on("data", (c: Buffer) => (raw += c.toString()));
      req.on("end", () => {
        const [status, body, headers] = this.handle(req, raw ? (JSON.parse(raw) as Obj) : undefined);
        const text = typeof body === "string" ? body : JSON.stringify(body);
        res.writeHead(status, { "content-type": "application/json", ...headers }).end(text);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  get last(): Recorded {
    return this.requests[this.requests.length - 1]!;
  }

  private handle(req: IncomingMessage, body: Obj | undefined): [number, unknown, Record<string, string>] {
    const url = new URL(req.url ?? "/", "http://x");
    this.requests.push({ method: req.method ?? "GET", path: url.pathname + url.search, headers: req.headers, body });
    const canned = this.script.get(url.pathname)?.shift();
    if (canned) return [canned[0], canned[1], canned[0] === 302 ? { location: "http://elsewhere.invalid/" } : {}];
    if (req.headers.authorization !== `Bearer ${this.apiKey}`) {
      return [401, { error: "Unauthorized", message: "Send a valid API key." }, {}];
    }
    const verbose = url.searchParams.get("verbose") === "true";
    return [...this.route(req.method ?? "GET", url.pathname.split("/").slice(3), verbose, body ?? {}), {}];
  }

  private add(kind: string, obj: Obj): Obj {
    this.objects.set(obj[`${kind}_id`] as string, obj);
    return obj;
  }

  private route(method: string, parts: string[], verbose: boolean, body: Obj): [number, unknown] {
    const notFound: [number, unknown] = [404, { error: "NotFound", message: `No such object: ${parts.join("/")}.` }];
    const id = randomUUID();
    const all = [...this.objects.values()];
    const [head, oid, sub] = parts;
    const found = oid !== undefined && this.objects.has(oid);
    if (method === "POST" && parts.join("/") === "workspaces") {
      return [201, this.add("workspace", { workspace_id: id, name: body.name, created_at: "t" })];
    }
    if (method === "GET" && parts.join("/") === "workspaces") {
      return [200, { workspaces: all.filter((o) => "workspace_id" in o && !("project_id" in o)) }];
    }
    if (head === "workspaces" && found && sub === undefined) {
      return [200, { ...this.objects.get(oid), projects: [], integrations: [] }];
    }
    if (head === "workspaces" && found && sub === "integrations" && method === "POST") {
      const fields = (body.integration_schema as Obj[]).map(({ value, ...f }) =>
        f.sensitivity === "PUBLIC" ? { ...f, value } : f,
      );
      return [201, { integration_id: id, name: body.name, integration_type: "CUSTOM", fields }];
    }
    if (method === "POST" && parts.join("/") === "projects") {
      if (!this.objects.has(body.workspace_id as string)) return notFound;
      const { name, description, workspace_id } = body;
      return [201, this.add("project", { project_id: id, workspace_id, name, description, created_at: "t" })];
    }
    if (head === "projects" && found && sub === "models") {
      if (method === "GET") return [200, { models: all.filter((o) => o.project_id === oid && !("job_id" in o)) }];
      const { name, model_config, integration_id = null } = body;
      const model = { model_id: id, project_id: oid, name, model_config, integration_id, latest_file_scan: null };
      return [201, this.add("model", model)];
    }
    if (head === "models" && found) {
      if (sub === undefined) return [200, this.objects.get(oid)];
      const scans = all.filter((o) => o.model_id === oid && "job_id" in o).map((o) => this.view(o, true));
      return [200, { file_scans: scans.reverse() }];
    }
    if (method === "POST" && parts.join("/") === "file-scans") {
      if (!this.objects.has(body.model_id as string)) return notFound;
      this.polls.set(id, 0);
      const { model_id, project_id, ram_request_megabytes = null } = body;
      const scan = { file_scan_id: id, job_id: id, model_id, project_id, ram_request_megabytes };
      return [202, this.add("file_scan", { ...scan, status: "queued", error: null, severity: null })];
    }
    if (head === "file-scans" && found) {
      if (sub === "rejudge") return [200, { ...this.view(this.objects.get(oid)!, false), rules_outdated: false }];
      this.polls.set(oid, (this.polls.get(oid) ?? 0) + 1);
      return [200, this.view(this.objects.get(oid)!, verbose)];
    }
    return notFound;
  }

  private view(scan: Obj, withResult: boolean): Obj {
    const polls = this.polls.get(scan.file_scan_id as string) ?? 0;
    if (polls >= this.pollsUntilDone)
      Object.assign(scan, { status: "succeeded", severity: 3, severity_label: "Alert" });
    else if (polls >= 1) scan.status = "running";
    return withResult && scan.status === "succeeded" ? { ...scan, result: REPORT } : { ...scan };
  }
}
