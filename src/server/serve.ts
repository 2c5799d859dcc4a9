import { resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { redact, registerSecret } from '../config/redact.js';
import { ConfigError } from '../errors.js';
import type { DeliveryOptions } from './alerts.js';
import { createApiServer } from './api/api-server.js';
import { PauseStore } from './pause-store.js';
import { RunEventLog } from './run-event-log.js';
import { HistoryStores, historyKey } from './history-stores.js';
import { loadCatalog, reloadCatalog, type CatalogEntry } from './pipeline-catalog.js';
import { watchPipelineFolder } from './pipeline-watcher.js';
import { RunManager } from './run-manager.js';
import { Scheduler } from './scheduler.js';
import { ServerLog, type LogFormat } from './server-log.js';

export interface ServeOptions {
  /** Folder of pipeline YAML files. */
  dir: string;
  host?: string;
  /** 0 picks a free port (tests). */
  port?: number;
  /** Overrides every pipeline's state folder. */
  stateDir?: string;
  /** Overrides every pipeline's state database (run history and locks in Postgres). */
  stateUrl?: string;
  logFormat?: LogFormat;
  /** Where log lines go; stderr by default. */
  logLine?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /** How long running syncs may take to finish on shutdown before they are cancelled. */
  graceMs?: number;
  /** Base URL of the UI in alert links; defaults to http://host:port. */
  publicUrl?: string;
  delivery?: DeliveryOptions;
}

export interface ServeHandle {
  url: string;
  entries: CatalogEntry[];
  manager: RunManager;
  log: ServerLog;
  /** Stops schedules, lets running syncs finish (or cancels them after the grace period), closes the server. */
  stop(): Promise<void>;
}

import { DEFAULT_HOST, DEFAULT_PORT } from './serve-defaults.js';
export { DEFAULT_HOST, DEFAULT_PORT };
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '[::1]']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export async function startServe(opts: ServeOptions): Promise<ServeHandle> {
  const env = opts.env ?? process.env;
  const host = opts.host ?? DEFAULT_HOST;
  const token = env.OUTFLOW_TOKEN || undefined;
  if (token) registerSecret(token);
  if (!isLoopback(host) && !token) {
    throw new ConfigError(`--host ${host}: binding beyond loopback needs OUTFLOW_TOKEN set, so the API is not open to the network`);
  }
  const log = new ServerLog(opts.logFormat ?? 'text', opts.logLine);
  const dir = resolve(opts.dir);
  const entries = loadCatalog(dir, { stateDir: opts.stateDir, stateUrl: opts.stateUrl, env });
  for (const e of entries) {
    if (e.pipeline) log.info('pipeline.loaded', { pipeline: e.name, file: e.file, schedule: e.pipeline.spec.schedule, every_ms: e.pipeline.spec.every });
    else log.error('pipeline.invalid', { pipeline: e.name, file: e.file, error: e.error });
  }

  let baseUrl = '';
  const stores = new HistoryStores();
  const manager = new RunManager({
    log,
    stores,
    runUrl: (pipeline, runId) => `${opts.publicUrl?.replace(/\/$/, '') ?? baseUrl}/pipelines/${encodeURIComponent(pipeline)}/runs/${runId}`,
    delivery: opts.delivery,
  });
  const byName = new Map(entries.filter((e) => e.pipeline).map((e) => [e.name, e.pipeline!]));
  const scheduler = new Scheduler((name) => {
    const p = byName.get(name);
    if (!p) return; // its file was removed a moment ago
    log.info('schedule.due', { pipeline: name });
    manager.trigger(p, 'schedule').catch((e) => log.error('schedule.error', { pipeline: name, error: (e as Error).message }));
  });
  const pauses = new PauseStore();
  const events = new RunEventLog();
  // Each run's events are kept for its page (written before the stream sends them on).
  manager.prependListener('event', (e) => {
    const p = byName.get(e.pipeline);
    if (!p) return;
    try {
      events.append(p.stateDir, e);
    } catch (err) {
      log.error('run.events', { pipeline: e.pipeline, run: e.runId, error: (err as Error).message });
    }
  });
  const { app, streams } = await createApiServer({
    dir,
    entries,
    manager,
    scheduler,
    stores,
    pauses,
    events,
    log,
    token,
    allowedHosts: isLoopback(host) ? new Set(['127.0.0.1', 'localhost', '[::1]', '::1']) : undefined,
  });
  try {
    await app.listen({ port: opts.port ?? DEFAULT_PORT, host });
  } catch (e) {
    throw (e as NodeJS.ErrnoException).code === 'EADDRINUSE' ? new ConfigError(`--port ${opts.port ?? DEFAULT_PORT}: address ${host} port already in use`) : e;
  }
  const { port } = app.server.address() as AddressInfo;
  baseUrl = `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
  for (const p of byName.values()) {
    scheduler.add(p);
    // A schedule paused from the API stays paused after a restart.
    if (pauses.isPaused(p)) scheduler.setPaused(p.name, true);
  }
  // Pipeline files added, edited or removed while serving are picked up without a restart.
  const watcher = await watchPipelineFolder(dir, () => {
    try {
      const { added, changed, removed } = reloadCatalog(dir, entries, { stateDir: opts.stateDir, stateUrl: opts.stateUrl, env });
      for (const e of [...changed, ...removed]) {
        scheduler.remove(e.name);
        byName.delete(e.name);
      }
      for (const e of [...added, ...changed]) {
        if (e.pipeline) {
          byName.set(e.name, e.pipeline);
          scheduler.add(e.pipeline);
          if (pauses.isPaused(e.pipeline)) scheduler.setPaused(e.name, true);
        }
        const kind = added.includes(e) ? 'added' : 'changed';
        if (e.pipeline) log.info(`pipeline.${kind}`, { pipeline: e.name, file: e.file, schedule: e.pipeline.spec.schedule, every_ms: e.pipeline.spec.every });
        else log.error('pipeline.invalid', { pipeline: e.name, file: e.file, error: e.error });
      }
      for (const e of removed) log.info('pipeline.removed', { pipeline: e.name, file: e.file });
    } catch (e) {
      log.error('pipelines.reload', { error: (e as Error).message });
    }
  });
  log.info('server.listening', { url: baseUrl, pipelines: entries.length, invalid: entries.filter((e) => !e.pipeline).length, token: !!token });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('server.stopping', { grace_ms: opts.graceMs ?? 30_000 });
      scheduler.stop();
      await watcher.close();
      await manager.stop(opts.graceMs ?? 30_000);
      // A run whose cancellation did not finish in time is still 'running' in history: say why it ended.
      const histories = new Map([...byName.values()].map((p) => [historyKey(p), p]));
      for (const p of histories.values()) {
        try {
          await (await stores.get(p)).closeOrphans('cancelled', 'the server stopped before the run finished');
        } catch (e) {
          log.error('shutdown.history', { pipeline: p.name, error: redact((e as Error).message) });
        }
      }
      // Live streams get the last events (run.finished of cancelled runs) and a clean end.
      streams.endAll();
      await app.close();
      await stores.closeAll();
      log.info('server.stopped');
    })());
  return { url: baseUrl, entries, manager, log, stop };
}
