import type { FastifyPluginCallbackTypebox } from "@fastify/type-provider-typebox";
import { rejudgeReport } from "@modelvet/engine";
import { Type } from "typebox";
import { InvalidRequestError } from "../../store/common.js";
import { createFileScan, getFileScanRow, listFileScans, toFileScan } from "../../store/file-scans.js";
import { listAttempts, loadForRejudge, saveFailure, saveRejudged } from "../../store/scan-jobs.js";
import { scopeOf } from "../auth.js";
import { errorResponses, FileScan, params, StartScanBody, VerboseQuery } from "../schemas.js";
import type { Services } from "../services.js";

export const fileScanRoutes: FastifyPluginCallbackTypebox<{ services: Services }> = (app, { services }, done) => {
  const { db, queue, classifier } = services;
  const rulesVersion = classifier.version;

  app.post(
    "/file-scans",
    {
      schema: {
        tags: ["file scans"],
        summary: "Start a file scan of a model",
        body: StartScanBody,
        response: { 202: FileScan, ...errorResponses },
      },
    },
    async (request, reply) => {
      const ram = request.body.ram_request_megabytes;
      if (ram !== undefined && ram > services.maxScanMemoryMegabytes)
        throw new InvalidRequestError(
          `ram_request_megabytes ${ram} is more than this service allows: the maximum is ${services.maxScanMemoryMegabytes} (MODELVET_MAX_SCAN_MEMORY_MB)`,
        );
      const scan = await createFileScan(db, scopeOf(request), request.body, rulesVersion);
      try {
        await queue.enqueue(scan.file_scan_id);
      } catch (e) {
        // Never leave a scan "queued" that no queue holds.
        await saveFailure(db, scan.file_scan_id, "the job queue could not take the scan; start it again");
        throw e;
      }
      return reply.code(202).send(scan);
    },
  );

  app.get(
    "/file-scans/:file_scan_id",
    {
      schema: {
        tags: ["file scans"],
        summary: "A file scan's status, progress, attempt history and (verbose) result",
        params: params.fileScan,
        querystring: VerboseQuery,
        response: { 200: FileScan, ...errorResponses },
      },
    },
    async (request) => {
      const scope = scopeOf(request);
      const row = await getFileScanRow(db, scope, request.params.file_scan_id);
      const verbose = request.query.verbose === "true" || request.query.verbose === "1";
      // Which worker process ran it is the operator's business, not a workspace's.
      const attempts = await listAttempts(db, row, scope.admin);
      return { ...toFileScan(row, rulesVersion, verbose), attempts };
    },
  );

  app.get(
    "/models/:model_id/file-scans",
    {
      schema: {
        tags: ["file scans"],
        summary: "A model's scan history, newest first",
        params: params.model,
        response: { 200: Type.Object({ file_scans: Type.Array(FileScan) }), ...errorResponses },
      },
    },
    async (request) => ({
      file_scans: await listFileScans(db, scopeOf(request), request.params.model_id, rulesVersion),
    }),
  );

  app.post(
    "/file-scans/:file_scan_id/rejudge",
    {
      schema: {
        tags: ["file scans"],
        summary: "Judge a finished scan again with the current rules",
        params: params.fileScan,
        response: { 200: FileScan, ...errorResponses },
      },
    },
    async (request) => {
      const scope = scopeOf(request);
      const id = request.params.file_scan_id;
      await getFileScanRow(db, scope, id);
      const stored = await loadForRejudge(db, id);
      if (!stored)
        throw new InvalidRequestError(`file scan ${id} has no result to re-judge; only a succeeded scan has`);
      // Judged again from the stored inventories: the model is not read.
      await saveRejudged(db, id, rejudgeReport(stored.report, stored.inventories, classifier));
      return toFileScan(await getFileScanRow(db, scope, id), rulesVersion, true);
    },
  );

  done();
};
