import { dirname, relative } from 'node:path';
import type { History, RunRecord } from '../../state/history.js';
import { summarizePipeline } from '../pipeline-summary.js';
import type { CatalogEntry } from '../pipeline-catalog.js';
import { historyKey, type HistoryStores } from '../history-stores.js';
import type { PauseStore } from '../pause-store.js';
import type { RunEventLog } from '../run-event-log.js';
import type { RunManager } from '../run-manager.js';
import type { Scheduler } from '../scheduler.js';
import type { ServerLog } from '../server-log.js';

/** What every route handler reads: the loaded pipelines and the server's parts. */
export interface ApiContext {
  /** The pipelines folder (files are shown relative to it). */
  dir: string;
  entries: CatalogEntry[];
  manager: RunManager;
  scheduler: Scheduler;
  stores: HistoryStores;
  pauses: PauseStore;
  events: RunEventLog;
  log: ServerLog;
  /** OUTFLOW_TOKEN: when set, every /api and /metrics request must carry it as a bearer token. */
  token?: string;
  /** Host names the server answers to (DNS-rebinding guard when bound to loopback); undefined: any. */
  allowedHosts?: Set<string>;
}

/** An error the API answers with: its status and a message for `{ error }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function entryNamed(ctx: ApiContext, name: string): CatalogEntry {
  const e = ctx.entries.find((x) => x.name === name);
  if (!e) throw new HttpError(404, `no pipeline named ${JSON.stringify(name)}`);
  return e;
}

export function validPipeline(e: CatalogEntry) {
  if (!e.pipeline) throw new HttpError(422, `pipeline ${e.name} is invalid: ${e.error}`);
  return e.pipeline;
}

/** The folder of a pipeline file relative to the pipelines folder: "." at the top. */
export function folderOf(ctx: ApiContext, e: CatalogEntry): string {
  return relative(ctx.dir, dirname(e.file)) || '.';
}

/** The line a config error points at ("file.yaml:6: …" or "file.yaml:6:3: …"). */
export function errorLine(error: string | undefined): number | undefined {
  const m = /^[^\n]*?\.ya?ml:(\d+)(?::\d+)?:/.exec(error ?? '');
  return m ? Number(m[1]) : undefined;
}

export async function pipelineStatus(ctx: ApiContext, e: CatalogEntry) {
  const summary = { ...summarizePipeline(e), folder: folderOf(ctx, e) };
  if (!e.pipeline) return { ...summary, errorLine: errorLine(e.error), lastRun: null, nextRun: null, running: null, runningElsewhere: null, paused: false };
  const store = await ctx.stores.get(e.pipeline);
  const [lastRun] = await store.listRuns(e.name, 1);
  const running = ctx.manager.running(e.name) ?? null;
  const paused = ctx.pauses.isPaused(e.pipeline);
  return {
    ...summary,
    lastRun: lastRun ?? null,
    nextRun: paused ? null : (ctx.scheduler.nextRun(e.name)?.toISOString() ?? null),
    paused,
    running,
    runningElsewhere: running ? null : ((await store.lockHolder(e.name)) ?? null),
  };
}

export async function findRun(ctx: ApiContext, id: number, pipeline: string | undefined): Promise<{ run: RunRecord; entry: CatalogEntry; store: History }> {
  // Pipelines may keep history in different state folders or databases, each numbering its runs: look in each.
  const candidates = ctx.entries.filter((e) => e.pipeline && (!pipeline || e.name === pipeline));
  const seen = new Set<string>();
  for (const e of candidates) {
    const key = historyKey(e.pipeline!);
    if (seen.has(key)) continue;
    seen.add(key);
    const store = await ctx.stores.get(e.pipeline!);
    const run = await store.getRun(id);
    if (!run) continue;
    const entry = ctx.entries.find((x) => x.pipeline && historyKey(x.pipeline) === key && x.name === run.pipeline);
    if (entry && (!pipeline || entry.name === pipeline)) return { run, entry, store };
  }
  throw new HttpError(404, `no run ${id}${pipeline ? ` of pipeline ${pipeline}` : ''}`);
}
