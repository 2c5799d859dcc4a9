import type { Column } from '../../types/logical-type.js';
import type { DeltaRecord, RejectedRow } from '../destination.js';
import { parseColumnTemplate, renderTemplate, templateProblems, type ColumnTemplate } from '../column-template.js';
import { jsonRow, textValue, UnwritableValueError, type JsonValueOptions } from '../record-values.js';
import type { HttpDestinationConfig } from './http-config.js';
import { idempotencyKey } from './idempotency-key.js';

type Method = 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type ChangeKind = DeltaRecord['op'];

/** How rows of one change kind are sent: the configured request for that kind, or the top-level one. */
export interface KindRequest {
  kind: ChangeKind;
  method: Method;
  url: ColumnTemplate;
  /** `{{rows}}` / `{{row}}` template; undefined: the bare JSON array (batch) or object (per row). */
  body?: string;
  /** The URL names a column: one request per row. */
  isPerRow: boolean;
  /** DELETE with no body template sends no body. */
  hasBody: boolean;
}

/** One HTTP request, ready to send. `rows` are the rows it carries, in body order. */
export interface PlannedRequest {
  kind: ChangeKind;
  method: Method;
  url: string;
  body?: string;
  idempotencyKey: string;
  rows: DeltaRecord[];
}

export function kindRequests(config: HttpDestinationConfig): Partial<Record<ChangeKind, KindRequest>> {
  const out: Partial<Record<ChangeKind, KindRequest>> = {};
  for (const kind of ['added', 'changed', 'removed'] as const) {
    const own = config[kind];
    // Removals are sent only when a request for them is configured: nothing is deleted by default.
    if (kind === 'removed' && !own) continue;
    const method = own?.method ?? (kind === 'removed' ? 'DELETE' : config.method);
    const url = parseColumnTemplate(own?.url ?? config.url);
    const body = own?.body ?? (kind === 'removed' ? undefined : config.body);
    out[kind] = { kind, method, url, body, isPerRow: url.columns.length > 0, hasBody: method !== 'DELETE' || body !== undefined };
  }
  return out;
}

/** Problems with the configured templates for these columns (checked at validate). */
export function requestProblems(requests: Partial<Record<ChangeKind, KindRequest>>, columns: string[], keys: string[]): string[] {
  const problems: string[] = [];
  for (const r of Object.values(requests) as KindRequest[]) {
    const field = r.kind === 'removed' ? 'destination.removed.url' : `destination.${r.kind}.url (or destination.url)`;
    // A removed row is known by its key alone.
    problems.push(...(r.kind === 'removed' ? templateProblems(r.url, keys, field, 'the primary key') : templateProblems(r.url, columns, field)));
    if (r.body && r.isPerRow && r.body.includes('{{rows}}')) problems.push(`destination.${r.kind}.body: the URL names a column, so each request carries one row: use {{row}}, not {{rows}}`);
    if (r.body && !r.isPerRow && r.body.includes('{{row}}') && !r.body.includes('{{rows}}')) {
      problems.push(`destination.${r.kind}.body: the URL names no column, so a request carries a batch of rows: use {{rows}}, not {{row}}`);
    }
  }
  return problems;
}

export interface PlanContext {
  pipeline: string;
  columns: readonly Column[];
  keyColumns: readonly Column[];
  batchSize: number;
  json: JsonValueOptions;
}

/**
 * The requests for rows of one change kind: one per row when the URL names a column, else
 * one per `batchSize` rows in the order given (so the same rows in the same order make the
 * same requests, with the same idempotency keys). Rows with a value JSON cannot hold are
 * refused here, before anything is sent.
 */
export function planRequests(
  req: KindRequest,
  rows: readonly DeltaRecord[],
  ctx: PlanContext,
): { requests: PlannedRequest[]; rejected: RejectedRow[] } {
  const columns = req.kind === 'removed' ? ctx.keyColumns : ctx.columns;
  const encoded: { row: DeltaRecord; json: string }[] = [];
  const rejected: RejectedRow[] = [];
  for (const row of rows) {
    try {
      encoded.push({ row, json: req.hasBody ? jsonRow(columns, valuesOf(row), ctx.json) : '' });
    } catch (e) {
      if (!(e instanceof UnwritableValueError)) throw e;
      rejected.push({ rn: row.rn, column: e.column, reason: e.message });
    }
  }
  const requests: PlannedRequest[] = [];
  if (req.isPerRow) {
    for (const e of encoded) {
      try {
        requests.push(buildRequest(req, [e], ctx, columns));
      } catch (err) {
        if (!(err instanceof UnwritableValueError)) throw err;
        rejected.push({ rn: e.row.rn, column: err.column, reason: err.message });
      }
    }
  } else {
    for (let i = 0; i < encoded.length; i += ctx.batchSize) requests.push(buildRequest(req, encoded.slice(i, i + ctx.batchSize), ctx, columns));
  }
  return { requests, rejected };
}

/** The same request for fewer of its rows (bisection keeps each row's JSON as it was). */
export function splitRequest(req: KindRequest, planned: PlannedRequest, ctx: PlanContext): [PlannedRequest, PlannedRequest] {
  const columns = req.kind === 'removed' ? ctx.keyColumns : ctx.columns;
  const encoded = planned.rows.map((row) => ({ row, json: req.hasBody ? jsonRow(columns, valuesOf(row), ctx.json) : '' }));
  const mid = Math.ceil(encoded.length / 2);
  return [buildRequest(req, encoded.slice(0, mid), ctx, columns), buildRequest(req, encoded.slice(mid), ctx, columns)];
}

function buildRequest(req: KindRequest, encoded: { row: DeltaRecord; json: string }[], ctx: PlanContext, columns: readonly Column[]): PlannedRequest {
  const rows = encoded.map((e) => e.row);
  const url = req.isPerRow ? renderUrl(req.url, rows[0], columns) : req.url.text;
  let body: string | undefined;
  if (req.hasBody) {
    const data = req.isPerRow ? encoded[0].json : '[' + encoded.map((e) => e.json).join(',') + ']';
    body = req.body ? req.body.split(req.isPerRow ? '{{row}}' : '{{rows}}').join(data) : data;
  }
  return { kind: req.kind, method: req.method, url, body, idempotencyKey: idempotencyKey(ctx.pipeline, req.kind, rows), rows };
}

/** A record's values in the order of the columns it is written with: a removed row has its key alone. */
function valuesOf(row: DeltaRecord) {
  return row.op === 'removed' ? row.key : (row.values ?? []);
}

function renderUrl(t: ColumnTemplate, row: DeltaRecord, columns: readonly Column[]): string {
  return renderTemplate(t, (name) => {
    const i = columns.findIndex((c) => c.name === name);
    const v = valuesOf(row)[i];
    if (v === null || v === undefined) throw new UnwritableValueError(name, 'is NULL, and the URL needs it');
    return encodeURIComponent(textValue(columns[i], v));
  });
}
