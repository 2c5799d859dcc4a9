import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHistory, type History, type HistoryLocation } from '../../src/state/history.js';
import { emptyCounts, type RunResult } from '../../src/state/run-result.js';
import { LockedError, StateAccessError } from '../../src/errors.js';
import { buildCli, CLI, removeCliBuild } from '../support/cli-process.js';
import { PG_URL, tempDir, uniqueName } from '../support/databases.js';
import { stateSchema, withPg } from '../support/state-database.js';

/**
 * One set of test bodies for both places history lives: SQLite in the state folder and a
 * Postgres state database (its own schema for this file, dropped after).
 */
const pgState = stateSchema();
const stores: [string, () => HistoryLocation][] = [
  ['sqlite', () => ({ stateDir: tempDir('outflow-history-') })],
  ['postgres', () => ({ stateDir: tempDir('outflow-history-'), stateUrl: pgState.url })],
];

beforeAll(() => buildCli(), 120_000);
afterAll(async () => {
  removeCliBuild();
  await pgState.drop();
});

async function withHistory<T>(at: HistoryLocation, work: (h: History) => Promise<T>): Promise<T> {
  const h = await openHistory(at);
  try {
    return await work(h);
  } finally {
    await h.close();
  }
}

function finished(run: { id: number; number: number; startedAt: string }, pipeline: string, over: Partial<RunResult> = {}): RunResult {
  return {
    runId: run.id,
    runNumber: run.number,
    pipeline,
    status: 'success',
    startedAt: run.startedAt,
    finishedAt: new Date().toISOString(),
    durationMs: 1500,
    syncKind: 'incremental',
    mode: 'upsert',
    counts: emptyCounts(),
    stages: [{ stage: 'extract', ms: 10 }],
    rejected: [],
    trigger: 'cli',
    ...over,
  };
}

describe.each(stores)('history in %s', (_engine, location) => {
  it('numbers runs per pipeline when pipelines share it', async () => {
    await withHistory(location(), async (h) => {
      const [a, b] = [uniqueName('a'), uniqueName('b')];
      const seq: [string, number][] = [];
      for (const p of [a, b, a, a, b]) seq.push([p, (await h.startRun(p, 'upsert', 'cli')).number]);
      expect(seq).toEqual([
        [a, 1],
        [b, 1],
        [a, 2],
        [a, 3],
        [b, 2],
      ]);
      expect((await h.listRuns(b)).map((r) => r.number)).toEqual([2, 1]);
      expect((await h.getRunByNumber(a, 2))?.pipeline).toBe(a);
      expect(await h.countRuns(a)).toBe(3);
      const [newest] = await h.listRuns(a, 1);
      expect(await h.getRun(newest.id)).toMatchObject({ pipeline: a, number: 3, status: 'running', trigger: 'cli', mode: 'upsert' });
    });
  });

  it('keeps a finished run with its rejected rows: paged, grouped, searched and read one by one', async () => {
    await withHistory(location(), async (h) => {
      const name = uniqueName('rejected');
      const run = await h.startRun(name, 'upsert', 'schedule');
      const rejected = [
        { key: { id: 1n }, column: 'v', reason: 'value too long' },
        { key: { id: 2 }, column: 'v', reason: 'value too long' },
        { key: { id: 3 }, reason: 'NOT NULL violated: Bad Row' },
      ];
      const counts = { ...emptyCounts(), read: 10, added: 10, sent: 10, inserted: 7, rejected: 3 };
      await h.finishRun(finished(run, name, { status: 'partial', counts, rejected, syncKind: 'full', fullReason: 'first run' }));

      expect(await h.getRun(run.id)).toMatchObject({
        status: 'partial',
        syncKind: 'full',
        fullReason: 'first run',
        durationMs: 1500,
        counts: { read: 10, inserted: 7, rejected: 3 },
        stages: [{ stage: 'extract', ms: 10 }],
        finishedAt: expect.any(String),
      });
      expect(await h.countRejected(run.id)).toBe(3);
      expect(await h.rejectedRows(run.id, 2, 1)).toEqual([
        { key: { id: 2 }, column: 'v', reason: 'value too long' },
        { key: { id: 3 }, column: undefined, reason: 'NOT NULL violated: Bad Row' },
      ]);
      // A bigint key is kept as text, losslessly.
      expect((await h.rejectedRows(run.id, 1))[0].key).toEqual({ id: '1' });
      expect(await h.rejectedGroups(run.id)).toEqual([
        { column: 'v', reason: 'value too long', count: 2 },
        { column: null, reason: 'NOT NULL violated: Bad Row', count: 1 },
      ]);
      const search = await h.searchRejected(run.id, 'bad ROW', 10, 0);
      expect(search).toEqual({ total: 1, rows: [{ key: { id: 3 }, column: undefined, reason: 'NOT NULL violated: Bad Row' }] });
      expect((await h.searchRejected(run.id, '"id":2', 10, 0)).total).toBe(1);
      expect(await h.searchRejected(run.id, 'TOO long', 1, 1)).toMatchObject({ total: 2, rows: [{ key: { id: 2 } }] });
      // % and _ are plain characters, not patterns.
      expect((await h.searchRejected(run.id, '%', 10, 0)).total).toBe(0);
      const all = [];
      for await (const r of h.eachRejected(run.id)) all.push(r.key);
      expect(all).toEqual([{ id: '1' }, { id: 2 }, { id: 3 }]);
    });
  });

  it('keeps a change log per run, paged and counted, cleared for a retried attempt and pruned past retention', async () => {
    await withHistory(location(), async (h) => {
      const name = uniqueName('changes');
      const runs = [];
      for (let i = 0; i < 3; i++) {
        const run = await h.startRun(name, 'mirror', 'cli');
        await h.recordChanges(run.id, [
          { op: 'inserted', key: JSON.stringify({ id: i * 10 + 1 }) },
          { op: 'updated', key: JSON.stringify({ id: i * 10 + 2 }) },
          { op: 'rejected', key: JSON.stringify({ id: i * 10 + 3 }), column: 'v', reason: 'check constraint' },
        ]);
        await h.finishRun(finished(run, name));
        runs.push(run);
      }
      const last = runs[2].id;
      expect(await h.countChanges(last)).toEqual({ inserted: 1, updated: 1, rejected: 1 });
      expect(await h.changes(last, 2, 1)).toEqual([
        { op: 'updated', key: { id: 22 } },
        { op: 'rejected', key: { id: 23 }, column: 'v', reason: 'check constraint' },
      ]);
      await h.recordChanges(last, [{ op: 'deleted', key: JSON.stringify({ id: 24 }) }]);
      expect((await h.changes(last)).map((c) => c.op)).toEqual(['inserted', 'updated', 'rejected', 'deleted']);

      await h.clearChanges(last);
      expect(await h.countChanges(last)).toEqual({});
      await h.recordChanges(last, [{ op: 'retried', key: JSON.stringify({ id: 3 }) }]);

      await h.pruneChanges(name, { keepRuns: 2 });
      expect(await h.countChanges(runs[0].id)).toEqual({});
      expect(await h.countChanges(runs[1].id)).toEqual({ inserted: 1, updated: 1, rejected: 1 });
      expect(await h.countChanges(last)).toEqual({ retried: 1 });
      await h.pruneChanges(name, { keepDays: 0 });
      expect(await h.countChanges(runs[1].id)).toEqual({});
    });
  });

  it('totals runs, durations and row counts per status (for /metrics)', async () => {
    await withHistory(location(), async (h) => {
      const name = uniqueName('totals');
      for (const [status, read] of [
        ['success', 5],
        ['success', 7],
        ['failed', 0],
      ] as const) {
        const run = await h.startRun(name, 'upsert', 'cli');
        await h.finishRun(finished(run, name, { status, durationMs: 1000, counts: { ...emptyCounts(), read, inserted: read, stillRejected: 1 } }));
      }
      await h.startRun(name, 'upsert', 'cli', 'skipped');
      const totals = Object.fromEntries((await h.runTotals(name)).map((t) => [t.status, t]));
      expect(Object.keys(totals).sort()).toEqual(['failed', 'skipped', 'success']);
      expect(totals.success).toMatchObject({ runs: 2, durationMs: 2000, counts: { read: 12, inserted: 12, stillRejected: 2, deleted: 0 } });
      expect(totals.failed).toMatchObject({ runs: 1, durationMs: 1000, counts: { read: 0, stillRejected: 1 } });
      expect(totals.skipped).toMatchObject({ runs: 1, durationMs: 0, counts: { read: 0 } });
    });
  });

  it('closes the runs this process left running (shutdown)', async () => {
    await withHistory(location(), async (h) => {
      const name = uniqueName('orphan');
      const run = await h.startRun(name, 'upsert', 'api');
      await h.closeOrphans('cancelled', 'the server stopped before the run finished');
      expect(await h.getRun(run.id)).toMatchObject({ status: 'cancelled', error: 'the server stopped before the run finished', finishedAt: expect.any(String) });
    });
  });

  it('refuses a second run while the lock is held, naming the holder’s pid and host; frees it on release', async () => {
    const at = location();
    const name = uniqueName('lock');
    await withHistory(at, async (holder) => {
      await holder.acquireLock(name);
      const run = await holder.startRun(name, 'upsert', 'cli');
      await withHistory(at, async (other) => {
        expect(await other.lockHolder(name)).toEqual({ pid: process.pid, host: hostname(), runId: run.id, since: expect.any(String) });
        expect(await other.isLocked(name)).toBe(true);
        const refused = await other.acquireLock(name).catch((e: unknown) => e);
        expect(refused).toBeInstanceOf(LockedError);
        expect((refused as Error).message).toMatch(
          new RegExp(`^pipeline ${name} is already running \\(pid ${process.pid} on ${hostname()}, since .+, run ${run.id}\\); wait for it to finish$`),
        );
        await holder.releaseLock(name);
        expect(await other.lockHolder(name)).toBeUndefined();
        expect(await other.isLocked(name)).toBe(false);
        await other.acquireLock(name);
        await other.releaseLock(name);
      });
    });
  });

  it('takes over the lock of a killed process and marks its run failed', async () => {
    const at = location();
    const name = uniqueName('killed');
    const child = await lockInChild(at, name);
    expect(child.run.number).toBe(1);
    process.kill(child.pid, 'SIGKILL');
    await child.exited;
    await withHistory(at, async (h) => {
      // Postgres frees the advisory lock once it sees the connection gone: a moment after the kill.
      await eventually(() => h.acquireLock(name));
      expect(await h.getRun(child.run.id)).toMatchObject({ status: 'failed', error: `the process running it died (pid ${child.pid})` });
      const next = await h.startRun(name, 'upsert', 'cli');
      expect(next.number).toBe(2);
      expect(await h.lockHolder(name)).toMatchObject({ pid: process.pid, runId: next.id });
      await h.releaseLock(name);
    });
  });
});

describe('the Postgres state database', () => {
  it('says which schema it cannot create and the privilege it needs', async () => {
    const role = uniqueName('outflow_nocreate');
    await withPg((c) => c.query(`CREATE ROLE ${role} LOGIN`));
    try {
      const u = new URL(PG_URL);
      u.username = role;
      u.searchParams.set('schema', `${pgState.schema}_x`);
      const e = await openHistory({ stateDir: tempDir(), stateUrl: u.toString() }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(StateAccessError);
      expect((e as Error).message).toMatch(new RegExp(`schema "${pgState.schema}_x", which does not exist, and ${role} may not create it .*GRANT CREATE ON DATABASE`));
    } finally {
      await withPg((c) => c.query(`DROP ROLE ${role}`));
    }
  });

  it('works for a role that may read and write the tables but not create anything', async () => {
    await withHistory({ stateDir: tempDir(), stateUrl: pgState.url }, async () => undefined);
    const role = uniqueName('outflow_dml');
    const s = pgState.schema;
    await withPg(async (c) => {
      await c.query(`CREATE ROLE ${role} LOGIN`);
      await c.query(`GRANT USAGE ON SCHEMA ${s} TO ${role}`);
      await c.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${role}`);
      await c.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${s} TO ${role}`);
    });
    try {
      const u = new URL(pgState.url);
      u.username = role;
      const name = uniqueName('dml');
      await withHistory({ stateDir: tempDir(), stateUrl: u.toString() }, async (h) => {
        await h.acquireLock(name);
        const run = await h.startRun(name, 'upsert', 'cli');
        await h.finishRun(finished(run, name));
        await h.releaseLock(name);
        expect((await h.listRuns(name)).map((r) => r.status)).toEqual(['success']);
      });
    } finally {
      await withPg(async (c) => {
        await c.query(`DROP OWNED BY ${role}`);
        await c.query(`DROP ROLE ${role}`);
      });
    }
  });

  it('a run whose lock connection dropped finishes and releases without error; the next run takes the lock', async () => {
    const at = { stateDir: tempDir(), stateUrl: pgState.url };
    const name = uniqueName('dropped');
    await withHistory(at, async (h) => {
      await h.acquireLock(name);
      const run = await h.startRun(name, 'upsert', 'cli');
      const killed = await withPg((c) =>
        c.query(
          `SELECT pg_terminate_backend(k.pid) FROM pg_locks k, (SELECT hashtextextended($1, 0) AS key) h
           WHERE k.locktype = 'advisory' AND k.objsubid = 1 AND k.classid::bigint = ((h.key >> 32) & 4294967295) AND k.objid::bigint = (h.key & 4294967295)`,
          [`outflow:${pgState.schema}:${name}`],
        ),
      );
      expect(killed.rowCount).toBe(1);
      await h.finishRun(finished(run, name));
      await h.releaseLock(name);
      await withHistory(at, async (next) => {
        await eventually(() => next.acquireLock(name));
        expect(await next.getRun(run.id)).toMatchObject({ status: 'success' });
        await next.releaseLock(name);
      });
    });
  });

  it('never prints the password of the state URL', async () => {
    const e = await openHistory({ stateDir: tempDir(), stateUrl: 'postgres://outflow:hunter2secret@127.0.0.1:1/state' }).catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/state database: cannot connect to 127\.0\.0\.1:1\/state/);
    expect((e as Error).message).not.toContain('hunter2secret');
  });
});

/** A separate node process that takes the pipeline's lock, starts a run and waits to be killed. */
async function lockInChild(at: HistoryLocation, name: string): Promise<{ pid: number; run: { id: number; number: number }; exited: Promise<void> }> {
  const historyJs = pathToFileURL(join(dirname(CLI), '../state/history.js')).href;
  const code = `
    const { openHistory } = await import(${JSON.stringify(historyJs)});
    const h = await openHistory(JSON.parse(process.env.AT));
    await h.acquireLock(process.env.NAME);
    const run = await h.startRun(process.env.NAME, 'upsert', 'cli');
    process.stdout.write(JSON.stringify(run) + '\\n');
    setInterval(() => undefined, 1 << 30);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, AT: JSON.stringify(at), NAME: name }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((done) => child.on('exit', () => done()));
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const run = await new Promise<{ id: number; number: number }>((ok, fail) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) ok(JSON.parse(out));
    });
    void exited.then(() => fail(new Error(`the child exited before taking the lock: ${err}`)));
  });
  return { pid: child.pid!, run, exited };
}

async function eventually(attempt: () => Promise<void>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await attempt();
    } catch (e) {
      if (!(e instanceof LockedError) || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
