import { EventEmitter } from 'node:events';
import type { Pipeline } from '../config/load-pipeline.js';
import { redact } from '../config/redact.js';
import { runPipeline, type ProgressEvent } from '../engine/run-pipeline.js';
import type { RunResult, RunStatus } from '../state/run-result.js';
import { LockedError } from '../errors.js';
import { dispatcherFor } from '../workers/queue-dispatcher.js';
import type { HistoryStores } from './history-stores.js';
import { alertPayload, deliverAlert, firedAlerts, DEFAULT_DELIVERY, type DeliveryOptions } from './alerts.js';
import type { ServerLog } from './server-log.js';

/** A run this process is executing now. */
export interface ActiveRun {
  pipeline: string;
  runId: number;
  trigger: string;
  startedAt: string;
  stage?: string;
  rows?: number;
  total?: number;
}

/**
 * What the live-status stream (/api/events) carries and each run's event log keeps. Every
 * event names its run; run.started comes before any progress; run.finished has the counts.
 */
export interface RunEvent {
  type: 'run.started' | 'run.progress' | 'run.finished' | 'run.skipped';
  time: string;
  pipeline: string;
  runId: number;
  status?: RunStatus;
  stage?: string;
  rows?: number;
  total?: number;
  counts?: RunResult['counts'];
  error?: string;
}

export type TriggerOutcome =
  | { kind: 'started'; runId: number }
  | { kind: 'running'; runId?: number; message: string }
  /** Another process (an `outflow run`) holds the lock: refused, nothing recorded. */
  | { kind: 'elsewhere'; message: string }
  | { kind: 'stopping'; message: string };

export interface RunManagerOptions {
  log: ServerLog;
  /** Link to a run's page, for alerts. */
  runUrl: (pipeline: string, runId: number) => string;
  delivery?: DeliveryOptions;
  /** The server's open histories (lock holders, skipped runs, the previous run for alerts). */
  stores: HistoryStores;
}

/**
 * Starts runs (from the scheduler or the API), keeps at most one per pipeline in this
 * process, streams their progress as events, sends alerts when they finish, and on
 * shutdown lets them finish or cancels them.
 */
export class RunManager extends EventEmitter<{ event: [RunEvent] }> {
  private readonly active = new Map<string, ActiveRun & { controller: AbortController; done: Promise<void> }>();
  private readonly pendingAlerts = new Set<Promise<unknown>>();
  private isStopping = false;
  /** Triggers per pipeline that have not yet started their run (nor been refused): history is async. */
  private readonly starting = new Map<string, number>();

  constructor(private readonly opts: RunManagerOptions) {
    super();
    this.setMaxListeners(0);
  }

  running(pipeline: string): ActiveRun | undefined {
    const a = this.active.get(pipeline);
    if (!a) return undefined;
    const { controller: _c, done: _d, ...shown } = a;
    return shown;
  }

  /**
   * From the API (trigger 'api'): refused while this pipeline runs here. From the scheduler
   * (trigger 'schedule'): always handed to runPipeline, whose lock refuses an overlapping run
   * and records it as skipped, so the history shows every due time that did not run.
   */
  async trigger(p: Pipeline, trigger: 'api' | 'schedule'): Promise<TriggerOutcome> {
    if (this.isStopping) return { kind: 'stopping', message: 'the server is shutting down; no new runs start' };
    const current = this.active.get(p.name);
    if (current && trigger === 'api') {
      return { kind: 'running', runId: current.runId, message: `pipeline ${p.name} is already running (run ${current.runId})` };
    }
    if (this.starting.has(p.name) && trigger === 'api') return { kind: 'running', message: `pipeline ${p.name} is starting a run` };
    this.starting.set(p.name, (this.starting.get(p.name) ?? 0) + 1);
    try {
      return await this.start(p, trigger);
    } finally {
      const n = (this.starting.get(p.name) ?? 1) - 1;
      if (n > 0) this.starting.set(p.name, n);
      else this.starting.delete(p.name);
    }
  }

  private async start(p: Pipeline, trigger: 'api' | 'schedule'): Promise<TriggerOutcome> {
    const { log } = this.opts;
    if (trigger === 'api') {
      // A click is refused up front when another process runs the pipeline, so it is not
      // recorded as a skipped run (a due schedule is: the history shows every due time).
      const holder = await (await this.opts.stores.get(p)).lockHolder(p.name);
      if (holder) {
        const of = holder.runId ? ` (run ${holder.runId})` : '';
        return { kind: 'elsewhere', message: `pipeline ${p.name} is running in another process${of} since ${holder.since}; wait for it to finish` };
      }
    }
    const controller = new AbortController();
    let runId: number | undefined;
    let settle: () => void = () => undefined;
    const done = new Promise<void>((ok) => (settle = ok));
    let started: () => void = () => undefined;
    const hasStarted = new Promise<void>((ok) => (started = ok));
    // runPipeline takes the lock and records the run, and calls onStart then, before any
    // stage: run.started goes out before the first stage's progress.
    // A pipeline with workers: true hands its partitions to `outflow worker` processes.
    const dispatcher = dispatcherFor(p, false);
    const running = runPipeline(p, {
      trigger,
      signal: controller.signal,
      dispatcher,
      onStart: (id) => {
        runId = id;
        started();
        this.active.set(p.name, { pipeline: p.name, runId: id, trigger, startedAt: new Date().toISOString(), controller, done });
        log.info('run.started', { pipeline: p.name, run: id, trigger });
        this.send({ type: 'run.started', pipeline: p.name, runId: id, status: 'running' });
      },
      onProgress: (e) => this.progress(p.name, e),
    });
    await Promise.race([hasStarted, running.catch(() => undefined)]);
    if (runId === undefined) {
      settle();
      void dispatcher?.close();
      try {
        await running;
        throw new Error('runPipeline finished without starting a run');
      } catch (e) {
        if (!(e instanceof LockedError)) throw e;
        log.warn('run.skipped', { pipeline: p.name, trigger, reason: e.message });
        // runPipeline recorded the skipped run: its id is the newest of the pipeline.
        const [skipped] = await (await this.opts.stores.get(p)).listRuns(p.name, 1);
        if (skipped?.status === 'skipped') {
          this.send({ type: 'run.skipped', pipeline: p.name, runId: skipped.id, status: 'skipped', error: redact(e.message) });
        }
        return { kind: 'elsewhere', message: redact(e.message) };
      }
    }
    const id = runId;
    void running
      .then(
        (result) => this.finished(p, result),
        (e) => {
          // runPipeline records failures itself; reaching here means the history store failed.
          log.error('run.error', { pipeline: p.name, run: id, error: (e as Error).message });
          this.send({ type: 'run.finished', pipeline: p.name, runId: id, status: 'failed', error: redact((e as Error).message) });
        },
      )
      .finally(() => {
        this.active.delete(p.name);
        settle();
        void dispatcher?.close();
      });
    return { kind: 'started', runId: id };
  }

  private send(e: Omit<RunEvent, 'time'>): void {
    this.emit('event', { time: new Date().toISOString(), ...e });
  }

  private lastProgressAt = new Map<string, number>();

  private progress(pipeline: string, e: ProgressEvent): void {
    const a = this.active.get(pipeline);
    if (!a) return;
    const isNewStage = a.stage !== e.stage;
    Object.assign(a, { stage: e.stage, rows: e.rows, total: e.total });
    // Row counters tick per batch: pass on stage changes at once, row updates at most twice a second.
    const now = Date.now();
    if (!isNewStage && now - (this.lastProgressAt.get(pipeline) ?? 0) < 500) return;
    this.lastProgressAt.set(pipeline, now);
    if (isNewStage) this.opts.log.info('run.stage', { pipeline, run: a.runId, stage: e.stage });
    this.send({ type: 'run.progress', pipeline, runId: a.runId, status: 'running', stage: e.stage, rows: e.rows, total: e.total });
  }

  private finished(p: Pipeline, r: RunResult): void {
    const fields = {
      pipeline: p.name,
      run: r.runId,
      status: r.status,
      duration_ms: r.durationMs,
      read: r.counts.read,
      added: r.counts.added,
      changed: r.counts.changed,
      removed: r.counts.removed,
      rejected: r.counts.rejected,
      error: r.error,
    };
    if (r.status === 'failed') this.opts.log.error('run.finished', fields);
    else this.opts.log.info('run.finished', fields);
    this.send({ type: 'run.finished', pipeline: p.name, runId: r.runId, status: r.status, counts: r.counts, error: r.error });
    const sending = this.sendAlerts(p, r).catch((e) => this.opts.log.error('alert.error', { pipeline: p.name, run: r.runId, error: (e as Error).message }));
    this.pendingAlerts.add(sending);
    void sending.finally(() => this.pendingAlerts.delete(sending));
  }

  private async sendAlerts(p: Pipeline, r: RunResult): Promise<void> {
    if (p.spec.alerts.length === 0) return;
    const fired = firedAlerts(p, r, await this.previousRead(p, r.runId));
    await Promise.all(
      fired.map(({ rule, why }) =>
        deliverAlert(rule.webhook, alertPayload(r, rule, why, this.opts.runUrl(p.name, r.runId)), this.opts.log, this.opts.delivery ?? DEFAULT_DELIVERY),
      ),
    );
  }

  /** counts.read of the last completed run before `runId`, for row_count_change. */
  private async previousRead(p: Pipeline, runId: number): Promise<number | undefined> {
    if (!p.spec.alerts.some((a) => a.on === 'row_count_change')) return undefined;
    const history = await this.opts.stores.get(p);
    for (let offset = 0; offset < 1000; offset += 50) {
      const page = await history.listRuns(p.name, 50, offset);
      const prev = page.find((run) => run.id < runId && (run.status === 'success' || run.status === 'partial'));
      if (prev) return prev.counts.read ?? 0;
      if (page.length < 50) return undefined;
    }
    return undefined;
  }

  /**
   * Shutdown: no new runs; running ones get `graceMs` to finish, then are cancelled through
   * their AbortSignal (recorded as 'cancelled'); pending alerts get their delivery time.
   */
  async stop(graceMs: number): Promise<void> {
    this.isStopping = true;
    const all = () => Promise.all([...this.active.values()].map((a) => a.done));
    if (this.active.size) {
      this.opts.log.info('shutdown.waiting', { runs: this.active.size, grace_ms: graceMs });
      await Promise.race([all(), sleepMs(graceMs)]);
    }
    for (const a of this.active.values()) {
      this.opts.log.warn('run.cancelling', { pipeline: a.pipeline, run: a.runId });
      a.controller.abort();
    }
    await Promise.race([all(), sleepMs(10_000)]);
    await Promise.race([Promise.all([...this.pendingAlerts]), sleepMs(15_000)]);
  }
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
