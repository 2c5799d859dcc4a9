import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { HistoryStore } from '../../src/state/history-store.js';
import { backoffDelay } from '../../src/engine/retry.js';
import { PG_URL } from '../support/databases.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { openFaultFixture, type FaultFixture } from '../support/fault-pipeline.js';

/** A hung or slow destination never hangs outflow: each timeout ends the run with a message naming it. */
describe('timeouts', () => {
  let fx: FaultFixture;
  let proxy: TcpProxy;

  beforeAll(async () => {
    fx = await openFaultFixture('timeouts', 100);
    const u = new URL(PG_URL);
    proxy = await TcpProxy.start({ host: u.hostname, port: Number(u.port || 5432) });
  });
  afterAll(async () => {
    await proxy.close();
    await fx.close();
  });

  it('a server that accepts and never answers: connect timeout, retried, then a clear failure', async () => {
    proxy.inject({ kind: 'blackhole' });
    const p = fx.pipeline(proxy.urlFor(PG_URL), `retry:\n  attempts: 2\n  initial_delay: 50ms\ntimeouts:\n  connect: 500ms\n`);
    const t0 = Date.now();
    const r = await runPipeline(p);
    proxy.clear();
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/cannot connect: no answer within timeouts\.connect \(500 ms\)/);
    expect(r.error).toContain('gave up after 2 attempts');
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(proxy.fired).toBeGreaterThanOrEqual(2); // both attempts hit the black hole
    // The run record says the same.
    const history = HistoryStore.open(p.stateDir);
    try {
      expect(await history.getRun(r.runId)).toMatchObject({ status: 'failed', error: r.error });
    } finally {
      await history.close();
    }
  });

  it('a statement longer than timeouts.statement is cancelled by Postgres, not retried, with a clear message', async () => {
    const p = fx.pipeline(
      PG_URL,
      `timeouts:\n  statement: 300ms\nactions:\n  before:\n    - name: slow\n      sql: SELECT pg_sleep(3)\n`,
    );
    const t0 = Date.now();
    const r = await runPipeline(p);
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/action "slow" \(before\) failed: .*a statement ran longer than timeouts\.statement \(300 ms\) and Postgres cancelled it/);
    expect(r.stages.some((s) => s.stage.startsWith('retry'))).toBe(false);
    expect(Date.now() - t0).toBeLessThan(2_500);
  });

  it('a run longer than timeouts.run is stopped: status cancelled, the message names the limit', async () => {
    const p = fx.pipeline(PG_URL, `timeouts:\n  run: 1s\nactions:\n  before:\n    - name: very slow\n      sql: SELECT pg_sleep(30)\n`);
    const t0 = Date.now();
    const r = await runPipeline(p);
    expect(r.status).toBe('cancelled');
    expect(r.error).toBe('the run exceeded timeouts.run (1000 ms) and was stopped');
    expect(Date.now() - t0).toBeLessThan(4_000);
    // The lock is released: the next run goes ahead.
    const again = await runPipeline(fx.pipeline(PG_URL));
    expect(again.status).toBe('success');
  });

  it('timeouts.run covers every attempt and the pauses between them', async () => {
    proxy.inject({ kind: 'blackhole' });
    const p = fx.pipeline(proxy.urlFor(PG_URL), `retry:\n  attempts: 20\n  initial_delay: 200ms\n  max_delay: 1s\ntimeouts:\n  connect: 400ms\n  run: 2s\n`);
    const t0 = Date.now();
    const r = await runPipeline(p);
    proxy.clear();
    expect(r.status).toBe('cancelled');
    expect(r.error).toContain('timeouts.run (2000 ms)');
    expect(Date.now() - t0).toBeLessThan(4_000);
  });

  it('backoff: exponential, capped, and jitter is configurable', () => {
    for (let attempt = 1; attempt <= 8; attempt++) {
      const cap = Math.min(1000, 100 * 2 ** (attempt - 1));
      expect(backoffDelay(attempt, 100, 1000, 0)).toBe(cap);
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(attempt, 100, 1000, 0.5);
        expect(d).toBeGreaterThanOrEqual(cap / 2);
        expect(d).toBeLessThanOrEqual(cap);
        const full = backoffDelay(attempt, 100, 1000, 1);
        expect(full).toBeGreaterThanOrEqual(0);
        expect(full).toBeLessThanOrEqual(cap);
      }
    }
    const p = fx.pipeline(PG_URL, `retry:\n  attempts: 7\n  initial_delay: 1s\n  max_delay: 1m\n  jitter: 0.2\n`);
    expect(p.spec.retry).toEqual({ attempts: 7, initial_delay: 1000, max_delay: 60_000, jitter: 0.2 });
  });
});
