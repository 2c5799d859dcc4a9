import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import { redact, redactValue } from '../config/redact.js';
import { previewPipeline } from '../engine/run-pipeline.js';
import { jsonSafe, type RunRecord } from '../state/history-store.js';
import { renderMetrics } from './metrics.js';
import { redactConfigText } from './config-text.js';
import { summarizePipeline } from './pipeline-summary.js';
import type { CatalogEntry } from './pipeline-catalog.js';
import type { HistoryStores } from './history-stores.js';
import type { RunEvent, RunManager } from './run-manager.js';
import type { Scheduler } from './scheduler.js';
import type { ServerLog } from './server-log.js';
import { INDEX_HTML } from './ui/index-html.js';
import { APP_JS } from './ui/app-script.js';
import { APP_CSS } from './ui/app-style.js';

export interface ApiContext {
  entries: CatalogEntry[];
  manager: RunManager;
  scheduler: Scheduler;
  stores: HistoryStores;
  log: ServerLog;
  /** OUTFLOW_TOKEN: when set, every /api and /metrics request must carry it as a bearer token. */
  token?: string;
  /** Host names the server answers to (DNS-rebinding guard when bound to loopback); undefined: any. */
  allowedHosts?: Set<string>;
}

/** An error the API answers with: its status and a message for `{ error }`. */
class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const MAX_PAGE = 500;

export function createRequestHandler(ctx: ApiContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const t0 = Date.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    res.on('finish', () => {
      if (url.pathname === '/api/events') return;
      ctx.log.info('http.request', { method: req.method, path: url.pathname, status: res.statusCode, ms: Date.now() - t0 });
    });
    handle(ctx, req, res, url).catch((e) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) ctx.log.error('http.error', { method: req.method, path: url.pathname, error: (e as Error).message });
      if (!res.headersSent) sendJson(res, status, { error: (e as Error).message });
      else res.end();
    });
  };
}

async function handle(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  checkHost(ctx, req);
  const path = url.pathname;
  const method = req.method ?? 'GET';
  const isApi = path.startsWith('/api/') || path === '/metrics';
  if (!isApi) return serveUi(res, path, method);
  checkToken(ctx, req);
  checkOrigin(req);

  let m: RegExpExecArray | null;
  if (path === '/metrics') {
    allow(method, 'GET');
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(redact(renderMetrics(ctx.entries, ctx.manager, ctx.stores)));
    return;
  }
  if (path === '/api/events') {
    allow(method, 'GET');
    return streamEvents(ctx, req, res);
  }
  if (path === '/api/pipelines') {
    allow(method, 'GET');
    return sendJson(res, 200, { pipelines: ctx.entries.map((e) => pipelineStatus(ctx, e)) });
  }
  if ((m = /^\/api\/pipelines\/([^/]+)$/.exec(path))) {
    allow(method, 'GET');
    return sendJson(res, 200, pipelineStatus(ctx, entryNamed(ctx, m[1])));
  }
  if ((m = /^\/api\/pipelines\/([^/]+)\/runs$/.exec(path))) {
    const e = entryNamed(ctx, m[1]);
    if (method === 'POST') return triggerRun(ctx, res, e);
    allow(method, 'GET');
    const p = validPipeline(e);
    const { limit, offset } = paging(url, 'limit', 'offset', 20);
    const store = ctx.stores.get(p.stateDir);
    return sendJson(res, 200, { runs: store.listRuns(p.name, limit, offset), total: store.countRuns(p.name), limit, offset });
  }
  if ((m = /^\/api\/pipelines\/([^/]+)\/runs\/(\d+)$/.exec(path))) {
    allow(method, 'GET');
    const p = validPipeline(entryNamed(ctx, m[1]));
    return sendJson(res, 200, runDetail(ctx, url, findRun(ctx, Number(m[2]), p.name)));
  }
  if ((m = /^\/api\/pipelines\/([^/]+)\/runs\/(\d+)\/changes$/.exec(path))) {
    // The run's row-level change log, paged: key, operation, and why a row was rejected.
    allow(method, 'GET');
    const { run, entry } = findRun(ctx, Number(m[2]), validPipeline(entryNamed(ctx, m[1])).name);
    const store = ctx.stores.get(entry.pipeline!.stateDir);
    const { limit, offset } = paging(url, 'limit', 'offset', 100);
    return sendJson(res, 200, { run: run.id, number: run.number, counts: store.countChanges(run.id), changes: store.changes(run.id, limit, offset), limit, offset });
  }
  if ((m = /^\/api\/runs\/(\d+)$/.exec(path))) {
    allow(method, 'GET');
    return sendJson(res, 200, runDetail(ctx, url, findRun(ctx, Number(m[1]), url.searchParams.get('pipeline') ?? undefined)));
  }
  if ((m = /^\/api\/pipelines\/([^/]+)\/preview$/.exec(path))) {
    allow(method, 'GET');
    return preview(ctx, res, url, entryNamed(ctx, m[1]));
  }
  if ((m = /^\/api\/pipelines\/([^/]+)\/config$/.exec(path))) {
    allow(method, 'GET');
    const e = entryNamed(ctx, m[1]);
    let text: string;
    try {
      text = readFileSync(e.file, 'utf8');
    } catch {
      throw new HttpError(404, `pipeline ${e.name}: its file can no longer be read`);
    }
    return sendJson(res, 200, { name: e.name, file: summarizePipeline(e).file, text: redactConfigText(text) });
  }
  throw new HttpError(404, `no such API path: ${path}`);
}

function pipelineStatus(ctx: ApiContext, e: CatalogEntry) {
  const summary = summarizePipeline(e);
  if (!e.pipeline) return { ...summary, lastRun: null, nextRun: null, running: null };
  const store = ctx.stores.get(e.pipeline.stateDir);
  const [lastRun] = store.listRuns(e.name, 1);
  return {
    ...summary,
    lastRun: lastRun ?? null,
    nextRun: ctx.scheduler.nextRun(e.name)?.toISOString() ?? null,
    running: ctx.manager.running(e.name) ?? null,
  };
}

async function triggerRun(ctx: ApiContext, res: ServerResponse, e: CatalogEntry): Promise<void> {
  const p = validPipeline(e);
  const outcome = await ctx.manager.trigger(p, 'api');
  if (outcome.kind === 'started') {
    res.setHeader('location', `/api/pipelines/${encodeURIComponent(p.name)}/runs/${outcome.runId}`);
    return sendJson(res, 202, { run_id: outcome.runId, pipeline: p.name, status: 'running' });
  }
  if (outcome.kind === 'stopping') throw new HttpError(503, outcome.message);
  return sendJson(res, 409, { error: outcome.message, run_id: outcome.runId ?? null });
}

function findRun(ctx: ApiContext, id: number, pipeline: string | undefined): { run: RunRecord; entry: CatalogEntry } {
  // Pipelines may keep history in different state folders, each numbering its runs: look in each.
  const candidates = ctx.entries.filter((e) => e.pipeline && (!pipeline || e.name === pipeline));
  const seen = new Set<string>();
  for (const e of candidates) {
    const dir = e.pipeline!.stateDir;
    if (seen.has(dir)) continue;
    seen.add(dir);
    const run = ctx.stores.get(dir).getRun(id);
    if (!run) continue;
    const entry = ctx.entries.find((x) => x.pipeline?.stateDir === dir && x.name === run.pipeline);
    if (entry && (!pipeline || entry.name === pipeline)) return { run, entry };
  }
  throw new HttpError(404, `no run ${id}${pipeline ? ` of pipeline ${pipeline}` : ''}`);
}

function runDetail(ctx: ApiContext, url: URL, { run, entry }: { run: RunRecord; entry: CatalogEntry }) {
  const store = ctx.stores.get(entry.pipeline!.stateDir);
  const { limit, offset } = paging(url, 'rejected_limit', 'rejected_offset', 100);
  const live = ctx.manager.running(entry.name);
  return {
    ...run,
    progress: live && live.runId === run.id ? { stage: live.stage ?? null, rows: live.rows ?? null, total: live.total ?? null } : null,
    rejected: { rows: store.rejectedRows(run.id, limit, offset), total: store.countRejected(run.id), limit, offset },
  };
}

const previewing = new Set<string>();

async function preview(ctx: ApiContext, res: ServerResponse, url: URL, e: CatalogEntry): Promise<void> {
  const p = validPipeline(e);
  // A preview opens the pipeline's snapshot, which a run holds while it goes: one at a time.
  if (ctx.manager.running(p.name)) throw new HttpError(409, `pipeline ${p.name} is running; preview it when the run has finished`);
  if (previewing.has(p.name)) throw new HttpError(409, `a preview of ${p.name} is already being computed`);
  previewing.add(p.name);
  try {
    const sample = Number(url.searchParams.get('sample') ?? 5);
    const result = await previewPipeline(p, { sampleSize: Number.isInteger(sample) && sample >= 0 && sample <= 100 ? sample : 5 });
    sendJson(res, 200, result);
  } catch (e) {
    throw new HttpError(502, `preview of ${p.name} failed: ${(e as Error).message}`);
  } finally {
    previewing.delete(p.name);
  }
}

function streamEvents(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
  res.write(': outflow live status\n\n');
  const send = (e: RunEvent) => res.write(`event: run\ndata: ${redact(JSON.stringify(e))}\n\n`);
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  ctx.manager.on('event', send);
  req.on('close', () => {
    clearInterval(heartbeat);
    ctx.manager.off('event', send);
  });
}

function entryNamed(ctx: ApiContext, raw: string): CatalogEntry {
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'pipeline name is not valid URL encoding');
  }
  const e = ctx.entries.find((x) => x.name === name);
  if (!e) throw new HttpError(404, `no pipeline named ${JSON.stringify(name)}`);
  return e;
}

function validPipeline(e: CatalogEntry) {
  if (!e.pipeline) throw new HttpError(422, `pipeline ${e.name} is invalid: ${e.error}`);
  return e.pipeline;
}

function paging(url: URL, limitKey: string, offsetKey: string, defaultLimit: number): { limit: number; offset: number } {
  const read = (key: string, fallback: number, max: number) => {
    const raw = url.searchParams.get(key);
    if (raw === null) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0 || n > max) throw new HttpError(400, `${key}: expected an integer from 0 to ${max}, got ${JSON.stringify(raw)}`);
    return n;
  };
  return { limit: read(limitKey, defaultLimit, MAX_PAGE), offset: read(offsetKey, 0, Number.MAX_SAFE_INTEGER) };
}

function allow(method: string, ...allowed: string[]): void {
  if (!allowed.includes(method)) throw new HttpError(405, `method ${method} not allowed here; use ${allowed.join(' or ')}`);
}

function checkToken(ctx: ApiContext, req: IncomingMessage): void {
  if (!ctx.token) return;
  const header = req.headers.authorization ?? '';
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(ctx.token);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new HttpError(401, 'missing or wrong bearer token (Authorization: Bearer $OUTFLOW_TOKEN)');
  }
}

/** A page on another site may send requests to loopback; a browser then sets Origin to that site. */
function checkOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (!origin) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new HttpError(403, 'unreadable Origin header');
  }
  if (host !== req.headers.host) throw new HttpError(403, `requests from ${origin} are not allowed`);
}

/** DNS rebinding: a hostile name resolving to 127.0.0.1 still sends its own name as Host. */
function checkHost(ctx: ApiContext, req: IncomingMessage): void {
  if (!ctx.allowedHosts) return;
  const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
  if (!ctx.allowedHosts.has(host)) throw new HttpError(421, `this server answers to ${[...ctx.allowedHosts].join(', ')}, not ${host || 'no Host'}`);
}

function serveUi(res: ServerResponse, path: string, method: string): void {
  allow(method, 'GET', 'HEAD');
  const security = {
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
  };
  if (path === '/ui/app.js') {
    res.writeHead(200, { ...security, 'content-type': 'text/javascript; charset=utf-8' });
    res.end(APP_JS);
    return;
  }
  if (path === '/ui/app.css') {
    res.writeHead(200, { ...security, 'content-type': 'text/css; charset=utf-8' });
    res.end(APP_CSS);
    return;
  }
  if (path === '/' || /^\/pipelines\/[^/]+(\/runs\/\d+)?$/.test(path)) {
    res.writeHead(200, {
      ...security,
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
      'x-frame-options': 'DENY',
    });
    res.end(INDEX_HTML);
    return;
  }
  if (path === '/favicon.ico') {
    res.writeHead(204);
    res.end();
    return;
  }
  throw new HttpError(404, `no such page: ${path}`);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(redactValue(jsonSafe(body)));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(text);
}
