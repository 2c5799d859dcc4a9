import type { SyncMode } from '../../config/pipeline-schema.js';
import { redact, registerSecret } from '../../config/redact.js';
import { ConfigError, ConnectionError, OutflowError } from '../../errors.js';
import type { Column } from '../../types/logical-type.js';
import type { ActionNames, DestinationCapabilities, DeltaRecord, RecordBatch, RecordDestination, RejectedRow, WritePreview, WriteResult } from '../destination.js';
import type { DestinationContext } from '../create-destination.js';
import { apiMessage, refusedInAnswer } from './http-answers.js';
import { httpDestinationLabel, type HttpDestinationConfig } from './http-config.js';
import { RequestFlow } from './http-flow.js';
import { kindRequests, planRequests, requestProblems, splitRequest, type ChangeKind, type KindRequest, type PlanContext, type PlannedRequest } from './http-requests.js';

/** The pipeline's retry defaults (pipeline-schema.ts), for a destination opened without them. */
const DEFAULT_RETRY = { attempts: 3, initialDelayMs: 500, maxDelayMs: 10_000 };

/** Opens nothing yet: connections are made by the first request (undici keeps a pool). */
export async function openHttpDestination(config: HttpDestinationConfig, ctx: DestinationContext): Promise<HttpDestination> {
  return new HttpDestination(config, ctx);
}

/** Headers whose values are plainly not secret; every other header value is redacted wherever it could appear. */
const PLAIN_HEADERS = /^(content-type|accept|accept-[a-z-]+|user-agent|content-encoding|cache-control)$/i;

/** The longest body `preview` shows. */
const PREVIEW_BODY_CHARS = 2_000;

/**
 * An HTTP/JSON API as a record destination: rows go out as JSON requests (a batch per
 * request, or one per row when the URL names a column), each with an Idempotency-Key;
 * every row comes back delivered or rejected with the API's own message.
 */
export class HttpDestination implements RecordDestination {
  readonly kind = 'http';
  readonly label: string;
  readonly capabilities: DestinationCapabilities & { shape: 'records' };
  private readonly requests: Partial<Record<ChangeKind, KindRequest>>;
  private readonly flow: RequestFlow;

  constructor(
    private readonly config: HttpDestinationConfig,
    ctx: Pick<DestinationContext, 'retry'>,
  ) {
    for (const [name, value] of Object.entries(config.headers)) if (!PLAIN_HEADERS.test(name)) registerSecret(value);
    this.requests = kindRequests(config);
    this.label = httpDestinationLabel(config);
    const modes: SyncMode[] = ['upsert', 'insert_new'];
    // update: sends every row with the `changed` request (e.g. PATCH /{id}), so only when one is configured.
    if (config.changed) modes.push('update');
    if (config.removed) modes.push('mirror');
    // A write of batch_size × concurrency rows keeps every connection busy (URLs naming a column: one request per row).
    this.capabilities = { shape: 'records', modes, transactions: false, readBack: false, uniqueKeyModes: [], maxBatchRows: config.batch_size * config.concurrency };
    const retry = ctx.retry ?? DEFAULT_RETRY;
    this.flow = new RequestFlow({
      label: this.label,
      concurrency: config.concurrency,
      maxRequestsPerSecond: config.max_requests_per_second,
      timeoutMs: config.timeout,
      retries: Math.max(0, retry.attempts - 1),
      initialDelayMs: retry.initialDelayMs,
      maxDelayMs: retry.maxDelayMs,
      headers: lowerCaseKeys(config.headers),
    });
  }

  /** Problems with the configuration for these columns, found before anything is sent (validate). */
  checkColumns(columns: Column[], keys: string[]): string[] {
    return requestProblems(this.requests, columns.map((c) => c.name), [...keys]);
  }

  /** Requests sent so far, retries included. */
  get requestsSent(): number {
    return this.flow.sent;
  }

  async write(batch: RecordBatch): Promise<WriteResult> {
    const { requests, rejected } = this.plan(batch);
    // Every request is started (the flow holds them to its concurrency and rate) and every one
    // is settled before the batch answers, so no request is left in flight behind an error.
    const outcomes = await Promise.allSettled(requests.map(({ req, planned }) => this.deliver(req, planned, batch)));
    const result: WriteResult = { delivered: 0, rejected };
    for (const o of outcomes) {
      if (o.status === 'rejected') throw o.reason;
      result.delivered += o.value.delivered;
      result.rejected.push(...o.value.rejected);
    }
    return result;
  }

  /** The requests a batch would make, the first `limit` of them, without sending anything: method, URL, header names (never values), first body. */
  previewWrites(batch: RecordBatch, limit = 3): WritePreview[] {
    const headers = [...Object.keys(lowerCaseKeys(this.config.headers)), 'idempotency-key'].join(', ');
    const shown = this.plan(batch).requests.slice(0, limit);
    return shown.map(({ planned }) => ({
      op: planned.kind,
      rows: planned.rows.length,
      request: `${planned.method} ${redact(planned.url)}`,
      details: { headers, 'idempotency-key': planned.idempotencyKey },
      body: planned.body === undefined ? undefined : truncate(redact(planned.body), PREVIEW_BODY_CHARS),
    }));
  }

  /** The requests for a batch, and the rows refused before sending (a value JSON cannot hold, a NULL the URL needs). */
  private plan(batch: RecordBatch): { requests: { req: KindRequest; planned: PlannedRequest }[]; rejected: RejectedRow[] } {
    const ctx = this.planContext(batch);
    const byKind = new Map<KindRequest, DeltaRecord[]>();
    for (const row of batch.records) {
      const req = this.requestFor(row.op, batch.mode);
      const list = byKind.get(req);
      if (list) list.push(row);
      else byKind.set(req, [row]);
    }
    const out: { req: KindRequest; planned: PlannedRequest }[] = [];
    const refused: RejectedRow[] = [];
    for (const [req, rows] of byKind) {
      const { requests, rejected } = planRequests(req, rows, ctx);
      refused.push(...rejected);
      for (const planned of requests) out.push({ req, planned });
    }
    return { requests: out, rejected: refused };
  }

  private requestFor(kind: ChangeKind, mode: SyncMode): KindRequest {
    // update mode: rows the diff calls added may exist in the API all the same; they go out as updates.
    const req = this.requests[mode === 'update' && kind === 'added' ? 'changed' : kind];
    if (!req) throw new ConfigError(`${this.label}: ${kind} rows to send, but destination.${kind} is not configured`);
    return req;
  }

  private planContext(batch: RecordBatch): PlanContext {
    return {
      pipeline: batch.delivery.pipeline,
      columns: batch.columns,
      keyColumns: batch.keys.map((k) => batch.columns.find((c) => c.name === k)!),
      batchSize: this.config.batch_size,
      json: { bigNumbers: this.config.big_numbers },
    };
  }

  /**
   * Sends one request and accounts for its rows. A 4xx refusing a request of several rows
   * is answered by splitting it in two and sending each half (with its own idempotency
   * key), down to the single rows the API refuses: those become rejected rows with its
   * status and message, the rest are delivered.
   */
  private async deliver(req: KindRequest, planned: PlannedRequest, batch: RecordBatch): Promise<{ delivered: number; rejected: RejectedRow[] }> {
    const mode = batch.mode;
    const answer = await this.flow.send(planned);
    const { status } = answer;
    const n = planned.rows.length;
    if (status >= 200 && status < 300) {
      if (!this.config.row_results || req.isPerRow) return { delivered: n, rejected: [] };
      const refused = refusedInAnswer(answer.body, this.config.row_results, n);
      const rejected = dedupe(refused).map((r) => ({ rn: planned.rows[r.position].rn, reason: `${planned.method} refused the row: ${r.message}` }));
      return { delivered: n - rejected.length, rejected };
    }
    const message = apiMessage(status, answer.statusText, answer.body);
    // Deleting what is already gone is done; in update mode a record the API does not have is
    // left alone, as an UPDATE leaves a row a table does not have (update never creates).
    if (req.isPerRow && (status === 404 || status === 410) && (req.kind === 'removed' || mode === 'update')) return { delivered: n, rejected: [] };
    if (status === 401 || status === 403 || status === 407) {
      throw new ConnectionError(`${this.label}: the API refused the request (${message}); check destination.headers`);
    }
    if (status === 405 || (status === 404 && !req.isPerRow)) {
      throw new ConfigError(`${this.label}: ${planned.method} ${status === 404 ? 'found nothing at the URL' : 'is not allowed there'} (${message}); check destination.url and method`);
    }
    if (status >= 400 && status < 500) {
      if (n === 1) return { delivered: 0, rejected: [{ rn: planned.rows[0].rn, reason: `${planned.method} refused the row: ${message}` }] };
      const halves = splitRequest(req, planned, this.planContext(batch));
      const [a, b] = await Promise.all(halves.map((h) => this.deliver(req, h, batch)));
      return { delivered: a.delivered + b.delivered, rejected: [...a.rejected, ...b.rejected] };
    }
    throw new OutflowError(`${this.label}: unexpected answer to ${planned.method}: ${message}`);
  }

  async actionNames(): Promise<ActionNames> {
    return {};
  }

  async cleanup(): Promise<void> {}

  async close(): Promise<void> {
    await this.flow.close();
  }
}

function lowerCaseKeys(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}

function dedupe<T extends { position: number }>(list: T[]): T[] {
  const seen = new Set<number>();
  return list.filter((r) => !seen.has(r.position) && seen.add(r.position));
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}… (${s.length} characters)` : s;
}
