import { Readable } from 'node:stream';
import { z } from 'zod';
import { redact } from '../../../config/redact.js';
import { entryNamed, findRun, HttpError, validPipeline, type ApiContext } from '../api-context.js';
import { errorBody, pageParam, pipelineParams, rejectedGroups, runDetail as runDetailSchema, runEvent, runParams, runRecord } from '../api-schemas.js';
import type { RouteModule } from '../api-server.js';
import type { CatalogEntry } from '../../pipeline-catalog.js';
import type { History, RunRecord } from '../../../state/history.js';

const tags = ['runs'];
const MAX_PAGE = 500;
const rejectedPaging = z.object({ rejected_limit: pageParam(100, MAX_PAGE), rejected_offset: pageParam(0, Number.MAX_SAFE_INTEGER) });

export const runRoutes: RouteModule = (api, ctx) => {
  api.route({
    method: 'POST',
    url: '/api/pipelines/:name/runs',
    schema: {
      tags,
      summary: 'Start a run now',
      params: pipelineParams,
      response: {
        202: z.object({ run_id: z.number().int(), pipeline: z.string(), status: z.literal('running') }),
        409: z.object({ error: z.string(), run_id: z.number().int().optional().describe('the run going on in this server; absent when another process holds the lock') }),
        422: errorBody,
        503: errorBody,
      },
    },
    handler: async (req, reply) => {
      const p = validPipeline(entryNamed(ctx, req.params.name));
      const outcome = await ctx.manager.trigger(p, 'api');
      if (outcome.kind === 'started') {
        void reply.header('location', `/api/pipelines/${encodeURIComponent(p.name)}/runs/${outcome.runId}`).code(202);
        return { run_id: outcome.runId, pipeline: p.name, status: 'running' as const };
      }
      if (outcome.kind === 'stopping') throw new HttpError(503, outcome.message);
      void reply.code(409);
      return outcome.kind === 'running' && outcome.runId !== undefined ? { error: outcome.message, run_id: outcome.runId } : { error: outcome.message };
    },
  });

  api.route({
    method: 'GET',
    url: '/api/pipelines/:name/runs',
    schema: {
      tags,
      summary: 'Runs of a pipeline, newest first',
      params: pipelineParams,
      querystring: z.object({ limit: pageParam(20, MAX_PAGE), offset: pageParam(0, Number.MAX_SAFE_INTEGER) }),
      response: {
        200: z.object({ runs: z.array(runRecord), total: z.number().int(), limit: z.number().int(), offset: z.number().int() }),
        404: errorBody,
        422: errorBody,
      },
    },
    handler: async (req) => {
      const p = validPipeline(entryNamed(ctx, req.params.name));
      const { limit, offset } = req.query;
      const store = await ctx.stores.get(p);
      return { runs: await store.listRuns(p.name, limit, offset), total: await store.countRuns(p.name), limit, offset };
    },
  });

  api.route({
    method: 'GET',
    url: '/api/pipelines/:name/runs/:id',
    schema: { tags, summary: 'One run with its rejected rows, paged', params: runParams, querystring: rejectedPaging, response: { 200: runDetailSchema, 404: errorBody } },
    handler: async (req) => {
      const p = validPipeline(entryNamed(ctx, req.params.name));
      return runDetail(ctx, await findRun(ctx, req.params.id, p.name), req.query.rejected_limit, req.query.rejected_offset);
    },
  });

  api.route({
    method: 'GET',
    url: '/api/runs/:id',
    schema: {
      tags,
      summary: 'One run by id (pass pipeline when pipelines keep separate state folders)',
      params: z.object({ id: z.coerce.number().int().positive() }),
      querystring: rejectedPaging.extend({ pipeline: z.string().optional() }),
      response: { 200: runDetailSchema, 404: errorBody },
    },
    handler: async (req) => runDetail(ctx, await findRun(ctx, req.params.id, req.query.pipeline), req.query.rejected_limit, req.query.rejected_offset),
  });

  api.route({
    method: 'GET',
    url: '/api/pipelines/:name/runs/:id/changes',
    schema: {
      tags,
      summary: "A run's row-level change log, paged: key, operation, and why a row was rejected",
      params: runParams,
      querystring: z.object({ limit: pageParam(100, MAX_PAGE), offset: pageParam(0, Number.MAX_SAFE_INTEGER) }),
      response: {
        200: z.object({
          run: z.number().int(),
          number: z.number().int().optional(),
          counts: z.record(z.string(), z.number().int()),
          changes: z.array(z.object({ op: z.string(), key: z.record(z.string(), z.unknown()), column: z.string().optional(), reason: z.string().optional() })),
          limit: z.number().int(),
          offset: z.number().int(),
        }),
        404: errorBody,
      },
    },
    handler: async (req) => {
      const { run, store } = await findRun(ctx, req.params.id, validPipeline(entryNamed(ctx, req.params.name)).name);
      const { limit, offset } = req.query;
      return { run: run.id, number: run.number, counts: await store.countChanges(run.id), changes: await store.changes(run.id, limit, offset), limit, offset };
    },
  });

  api.route({
    method: 'GET',
    url: '/api/pipelines/:name/runs/:id/rejected',
    schema: {
      tags,
      summary: "A run's rejected rows grouped by column and reason, and searched (q matches key, column or reason)",
      params: runParams,
      querystring: z.object({ q: z.string().max(200).default(''), limit: pageParam(100, MAX_PAGE), offset: pageParam(0, Number.MAX_SAFE_INTEGER) }),
      response: { 200: rejectedGroups, 404: errorBody },
    },
    handler: async (req) => {
      const { run, store } = await findRun(ctx, req.params.id, validPipeline(entryNamed(ctx, req.params.name)).name);
      const { rows, total } = await store.searchRejected(run.id, req.query.q, req.query.limit, req.query.offset);
      return { groups: await store.rejectedGroups(run.id), rows, total, limit: req.query.limit, offset: req.query.offset };
    },
  });

  api.route({
    method: 'GET',
    url: '/api/pipelines/:name/runs/:id/rejected.csv',
    schema: {
      tags,
      summary: "Every rejected row of a run as CSV (key as JSON, column, reason)",
      params: runParams,
      produces: ['text/csv'],
    },
    handler: async (req, reply) => {
      const { run, entry, store } = await findRun(ctx, req.params.id, validPipeline(entryNamed(ctx, req.params.name)).name);
      // Streamed from history a page at a time, so a run with many rejected rows is not held in memory.
      const lines = (async function* () {
        yield 'key,column,reason\r\n';
        for await (const r of store.eachRejected(run.id)) yield [JSON.stringify(r.key), r.column ?? '', r.reason].map((v) => csvCell(redact(v))).join(',') + '\r\n';
      })();
      void reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${entry.name}-run-${run.id}-rejected.csv"`)
        .header('cache-control', 'no-store');
      return reply.send(Readable.from(lines));
    },
  });

  api.route({
    method: 'GET',
    url: '/api/pipelines/:name/runs/:id/events',
    schema: {
      tags,
      summary: "A run's event log (the live events it sent while this server ran it)",
      params: runParams,
      response: { 200: z.object({ events: z.array(runEvent) }), 404: errorBody },
    },
    handler: async (req) => {
      const { run, entry } = await findRun(ctx, req.params.id, validPipeline(entryNamed(ctx, req.params.name)).name);
      return { events: ctx.events.read(entry.pipeline!.stateDir, entry.name, run.id) };
    },
  });
};

async function runDetail(ctx: ApiContext, { run, entry, store }: { run: RunRecord; entry: CatalogEntry; store: History }, limit: number, offset: number) {
  const live = ctx.manager.running(entry.name);
  return {
    ...run,
    progress: live && live.runId === run.id ? { stage: live.stage ?? null, rows: live.rows ?? null, total: live.total ?? null } : null,
    rejected: { rows: await store.rejectedRows(run.id, limit, offset), total: await store.countRejected(run.id), limit, offset },
  };
}

/** RFC 4180: quote a cell holding a comma, quote or line break; a leading =+-@ is escaped against spreadsheet formulas. */
function csvCell(v: string): string {
  const safe = /^[=+\-@]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
