import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { previewPipeline } from '../../../engine/run-pipeline.js';
import { redactConfigText } from '../../config-text.js';
import { summarizePipeline } from '../../pipeline-summary.js';
import { entryNamed, errorLine, folderOf, HttpError, pipelineStatus, validPipeline, type ApiContext } from '../api-context.js';
import { configText, errorBody, pipelineParams, pipelineStatus as pipelineSchema, preview as previewSchema } from '../api-schemas.js';
import type { RouteModule } from '../api-server.js';

const tags = ['pipelines'];

export const pipelineRoutes: RouteModule = (api, ctx) => {
  api.route({
    method: 'GET',
    url: '/api/pipelines',
    schema: { tags, summary: 'Every pipeline with its status', response: { 200: z.object({ pipelines: z.array(pipelineSchema) }), 401: errorBody } },
    handler: async () => ({ pipelines: await Promise.all(ctx.entries.map((e) => pipelineStatus(ctx, e))) }),
  });

  api.route({
    method: 'GET',
    url: '/api/pipelines/:name',
    schema: { tags, summary: 'One pipeline', params: pipelineParams, response: { 200: pipelineSchema, 404: errorBody } },
    handler: async (req) => pipelineStatus(ctx, entryNamed(ctx, req.params.name)),
  });

  api.route({
    method: 'GET',
    url: '/api/pipelines/:name/config',
    schema: {
      tags,
      summary: 'The pipeline file as written, secrets and webhook paths redacted',
      params: pipelineParams,
      response: { 200: configText, 404: errorBody },
    },
    handler: async (req) => {
      const e = entryNamed(ctx, req.params.name);
      let text: string;
      try {
        text = readFileSync(e.file, 'utf8');
      } catch {
        throw new HttpError(404, `pipeline ${e.name}: its file can no longer be read`);
      }
      return { name: e.name, file: summarizePipeline(e).file, folder: folderOf(ctx, e), text: redactConfigText(text), error: e.error, errorLine: errorLine(e.error) };
    },
  });

  const previewing = new Set<string>();
  api.route({
    method: 'GET',
    url: '/api/pipelines/:name/preview',
    schema: {
      tags,
      summary: 'A dry run: planned inserts, updates and deletes with sample rows; nothing is written',
      params: pipelineParams,
      querystring: z.object({ sample: z.coerce.number().int().min(0).max(100).default(5) }),
      response: { 200: previewSchema, 409: errorBody, 422: errorBody, 502: errorBody },
    },
    handler: async (req) => {
      const p = validPipeline(entryNamed(ctx, req.params.name));
      // A preview opens the pipeline's snapshot, which a run holds while it goes: one at a time.
      if (ctx.manager.running(p.name)) throw new HttpError(409, `pipeline ${p.name} is running; preview it when the run has finished`);
      if (previewing.has(p.name)) throw new HttpError(409, `a preview of ${p.name} is already being computed`);
      previewing.add(p.name);
      try {
        return await previewPipeline(p, { sampleSize: req.query.sample });
      } catch (e) {
        throw new HttpError(502, `preview of ${p.name} failed: ${(e as Error).message}`);
      } finally {
        previewing.delete(p.name);
      }
    },
  });

  for (const action of ['pause', 'resume'] as const) {
    api.route({
      method: 'POST',
      url: `/api/pipelines/:name/${action}`,
      schema: {
        tags,
        summary: action === 'pause' ? "Pause the pipeline's schedule (kept across restarts; Run now still works)" : "Resume the pipeline's schedule",
        params: pipelineParams,
        response: { 200: pipelineSchema, 404: errorBody, 422: errorBody },
      },
      handler: async (req) => setPaused(ctx, req.params.name, action === 'pause'),
    });
  }
};

function setPaused(ctx: ApiContext, name: string, paused: boolean) {
  const e = entryNamed(ctx, name);
  const p = validPipeline(e);
  ctx.pauses.set(p, paused);
  ctx.scheduler.setPaused(p.name, paused);
  ctx.log.info(paused ? 'schedule.paused' : 'schedule.resumed', { pipeline: p.name });
  return pipelineStatus(ctx, e);
}
