import { readFileSync } from "node:fs";
import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import {
  citedReferences,
  findRuleDoc,
  matchMeaning,
  renderRuleDoc,
  SEVERITY_LABELS,
  toCycloneDx,
  toSarif,
  type Classifier,
  type ScanReport,
} from "@modelvet/engine";
import { Type, type Static } from "typebox";
import { InvalidRequestError, NotFoundError } from "../../store/common.js";
import { getFileScanRow } from "../../store/file-scans.js";
import { scopeOf } from "../auth.js";
import {
  errorResponses,
  params,
  ReportQuery,
  RuleDetail,
  RuleEntry,
  RuleList,
  ruleParams,
  ServerSettings,
} from "../schemas.js";
import type { Services } from "../services.js";

type Entry = Static<typeof RuleEntry>;

/** The server's version, for the tool entry of exported reports (src/ and dist/ sit at the same depth). */
const VERSION = (
  JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/** Report exports by format, each as the JSON text of the download (the CycloneDX writer validates its BOM). */
const EXPORTS: Record<"json" | "sarif" | "cyclonedx", (report: ScanReport) => Promise<string>> = {
  json: (report) => Promise.resolve(JSON.stringify(report, null, 2)),
  sarif: (report) => Promise.resolve(JSON.stringify(toSarif(report, VERSION), null, 2)),
  cyclonedx: (report) => toCycloneDx(report, VERSION),
};
const MEDIA_TYPES = {
  json: "application/json",
  sarif: "application/sarif+json",
  cyclonedx: "application/vnd.cyclonedx+json",
};
const EXTENSIONS = { json: "json", sarif: "sarif", cyclonedx: "cdx.json" };

function ruleEntries(classifier: Classifier): Entry[] {
  const { pack } = classifier;
  const imports = pack.rules.map((r): Entry => ({
    id: r.id,
    kind: "import",
    match: r.match,
    match_meaning: matchMeaning(r.match),
    severity: r.severity,
    severity_label: SEVERITY_LABELS[r.severity],
    reason: r.reason,
    references: citedReferences(r.references),
  }));
  const indicators = [...pack.indicators.values()].map((r): Entry => ({
    id: r.id,
    kind: "indicator",
    severity: r.severity,
    severity_label: SEVERITY_LABELS[r.severity],
    reason: r.reason,
    references: citedReferences(r.references),
  }));
  return [...imports, ...indicators];
}

export const reportRoutes: FastifyPluginCallbackTypebox<{ services: Services }> = (app, { services }, done) => {
  const { db, classifier } = services;
  const entries = ruleEntries(classifier);
  const byId = new Map<string, Entry>();
  for (const entry of entries) if (!byId.has(entry.id)) byId.set(entry.id, entry);

  app.get(
    "/rules",
    {
      schema: {
        tags: ["rules"],
        summary: "The server's rules pack: version, counts and every rule",
        response: { 200: RuleList, ...errorResponses },
      },
    },
    () => ({
      version: classifier.version,
      rules: classifier.pack.rules.length,
      indicators: classifier.pack.indicators.size,
      entries,
    }),
  );

  app.get(
    "/rules/:rule_id",
    {
      schema: {
        tags: ["rules"],
        summary: "One rule: what it matches, its severity, reason and references",
        params: ruleParams,
        response: { 200: RuleDetail, ...errorResponses },
      },
    },
    (request) => {
      const id = request.params.rule_id;
      // `unlisted` (no rule matched an import) is documented but is no entry of the pack.
      const doc = findRuleDoc(classifier.pack, id);
      const entry = byId.get(id) ?? (doc && { ...doc, severity_label: SEVERITY_LABELS[doc.severity] });
      if (!entry) throw new NotFoundError(`rule ${id} is not in rules pack ${classifier.version}`);
      // The page `modelvet rules explain <id>` prints, for allow rules too (they have no docs/rules page).
      const explanation = renderRuleDoc(doc ?? { ...entry }, classifier.version);
      return { ...entry, explanation };
    },
  );

  app.get(
    "/file-scans/:file_scan_id/report",
    {
      schema: {
        tags: ["file scans"],
        summary: "Download a finished scan's report as JSON, SARIF or CycloneDX",
        params: params.fileScan,
        querystring: ReportQuery,
        response: { 200: Type.Unknown({ description: "the report in the asked format" }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const row = await getFileScanRow(db, scopeOf(request), request.params.file_scan_id);
      const format = request.query.format ?? "json";
      if (!row.result)
        throw new InvalidRequestError(
          `file scan ${row.id} is ${row.status} and has no report; only a succeeded scan has`,
        );
      const body = await EXPORTS[format](JSON.parse(row.result) as ScanReport);
      return reply
        .type(MEDIA_TYPES[format])
        .header("content-disposition", `attachment; filename="modelvet-${row.id}.${EXTENSIONS[format]}"`)
        .serializer((payload: string) => payload)
        .send(body);
    },
  );

  app.get(
    "/settings",
    {
      schema: {
        tags: ["rules"],
        summary: "What the web UI needs to know of this server",
        response: {
          200: ServerSettings,
          ...errorResponses,
        },
      },
    },
    () => ({ hub_endpoint: services.hubEndpoint ?? null, rules_version: classifier.version }),
  );
  done();
};
