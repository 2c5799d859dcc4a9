import { z } from 'zod';

/**
 * Request and response schemas of the HTTP API. Fastify validates requests and serializes
 * responses with them (fastify-type-provider-zod), and /api/openapi.json is generated from
 * them, so the document cannot drift from what the server answers.
 */

export const errorBody = z.object({ error: z.string() }).meta({ id: 'Error' });

export const runStatus = z.enum(['running', 'success', 'partial', 'failed', 'skipped', 'cancelled']);

/** Row counts (a run in progress has only some). */
export const rowCounts = z
  .object({
    read: z.number().optional(),
    added: z.number().optional(),
    changed: z.number().optional(),
    removed: z.number().optional(),
    sent: z.number().optional(),
    inserted: z.number().optional(),
    updated: z.number().optional(),
    deleted: z.number().optional(),
    unchanged: z.number().optional(),
    rejected: z.number().optional(),
    retried: z.number().optional().describe('rows the previous run refused, sent again (not counted as added or changed)'),
    stillRejected: z.number().optional().describe('of rejected: rows the previous run refused too'),
  })
  .meta({ id: 'RowCounts' });

export const runRecord = z
  .object({
    id: z.number().int(),
    pipeline: z.string(),
    status: runStatus,
    trigger: z.string(),
    mode: z.string(),
    syncKind: z.string().optional(),
    fullReason: z.string().optional(),
    startedAt: z.string().describe('ISO 8601 time in UTC'),
    finishedAt: z.string().optional(),
    durationMs: z.number().optional(),
    counts: rowCounts,
    stages: z.array(z.object({ stage: z.string(), ms: z.number() })),
    error: z.string().optional(),
  })
  .meta({ id: 'Run' });

const progress = z.object({ stage: z.string().nullable(), rows: z.number().nullable(), total: z.number().nullable() });

export const pipelineStatus = z
  .object({
    name: z.string(),
    file: z.string().describe('file name'),
    folder: z.string().describe('folder of the file, relative to the pipelines folder ("." for the top)'),
    valid: z.boolean(),
    error: z.string().optional(),
    errorLine: z.number().int().optional().describe('line of the file the error points at'),
    description: z.string().optional(),
    source: z.object({ type: z.string(), model: z.string() }).optional(),
    destination: z.string().optional(),
    mode: z.string().optional(),
    primaryKey: z.array(z.string()).optional(),
    actions: z.record(z.string(), z.array(z.object({ name: z.string(), on: z.string() }))).optional(),
    schedule: z.object({ cron: z.string().optional(), everyMs: z.number().optional(), timezone: z.string().optional() }).optional(),
    alerts: z.array(z.object({ on: z.string(), threshold: z.number().optional(), webhook: z.string() })).optional(),
    lastRun: runRecord.nullable(),
    nextRun: z.string().nullable(),
    paused: z.boolean().describe('schedule paused through the API or UI'),
    running: z
      .object({ runId: z.number(), trigger: z.string(), startedAt: z.string(), stage: z.string().optional(), rows: z.number().optional(), total: z.number().optional() })
      .nullable(),
    runningElsewhere: z
      .object({ runId: z.number().nullable(), since: z.string() })
      .nullable()
      .describe('another process (an `outflow run`) holds the pipeline lock'),
  })
  .meta({ id: 'Pipeline' });

export const rejectedRow = z.object({ key: z.record(z.string(), z.unknown()), column: z.string().optional(), reason: z.string() }).meta({ id: 'RejectedRow' });

export const rejectedPage = z.object({
  rows: z.array(rejectedRow),
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
});

export const runDetail = runRecord
  .extend({
    progress: progress.nullable(),
    rejected: rejectedPage,
  })
  .meta({ id: 'RunDetail' });

export const rejectedGroups = z
  .object({
    groups: z.array(z.object({ column: z.string().nullable(), reason: z.string(), count: z.number().int() })),
    rows: z.array(rejectedRow),
    total: z.number().int().describe('rows matching the search'),
    limit: z.number().int(),
    offset: z.number().int(),
  })
  .meta({ id: 'RejectedRows' });

export const runEvent = z
  .object({
    type: z.enum(['run.started', 'run.progress', 'run.finished', 'run.skipped']),
    time: z.string(),
    pipeline: z.string(),
    runId: z.number().int(),
    status: runStatus.optional(),
    stage: z.string().optional(),
    rows: z.number().optional(),
    total: z.number().optional(),
    counts: rowCounts.optional(),
    error: z.string().optional(),
  })
  .meta({ id: 'RunEvent' });

export const preview = z
  .object({
    pipeline: z.string(),
    mode: z.string(),
    syncKind: z.enum(['full', 'incremental']),
    fullReason: z.string().optional(),
    counts: z.object({ read: z.number(), added: z.number(), changed: z.number(), removed: z.number(), invalid: z.number() }),
    planned: z.object({ wouldInsert: z.number(), wouldUpdate: z.number(), wouldDelete: z.number(), targetRows: z.number() }).optional(),
    targetExists: z.boolean(),
    columns: z.array(z.string()),
    samples: z.object({ added: z.array(z.array(z.unknown())), changed: z.array(z.array(z.unknown())), removed: z.array(z.array(z.unknown())) }),
    problems: z.array(z.string()),
  })
  .meta({ id: 'Preview' });

export const configText = z
  .object({
    name: z.string(),
    file: z.string(),
    folder: z.string(),
    text: z.string().describe('the file as written, ${ENV} references kept, secrets and webhook paths redacted'),
    error: z.string().optional(),
    errorLine: z.number().int().optional(),
  })
  .meta({ id: 'PipelineConfig' });

export const pipelineParams = z.object({ name: z.string().min(1) });
export const runParams = z.object({ name: z.string().min(1), id: z.coerce.number().int().positive() });

/** A paging query parameter: an integer from 0 to `max`, with the API's own error text. */
export function pageParam(defaultValue: number, max: number) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return defaultValue;
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 0 || n > max || raw.trim() === '') {
        ctx.addIssue({ code: 'custom', message: `expected an integer from 0 to ${max}, got ${JSON.stringify(raw)}` });
        return z.NEVER;
      }
      return n;
    });
}
