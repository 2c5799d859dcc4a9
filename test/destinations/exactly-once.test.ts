import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { verifyPipeline } from '../../src/engine/verify.js';
import { buildCli, killHard, removeCliBuild, runCli, startPaused } from '../support/cli-process.js';
import type { Fixture } from '../support/change-fixture.js';
import { DESTINATION_HARNESSES, KILL_POINTS } from '../support/destination-harness.js';

/**
 * Exactly once, in every sync mode, `insert` included: `outflow run` is SIGKILLed at each
 * pause point of an incremental run that its destination's shape passes through
 * (KILL_POINTS); the next run exits 0, the target holds every key once, and `verify`
 * (where the destination reads back) finds it as the mode promises. A kill after the merge
 * committed ('snapshot') is the case the delivery ledger exists for: the next run finishes
 * the dead run's snapshot from its pending delta and sends nothing again. Record
 * destinations are at-least-once with idempotent writes: after a kill the next run sends
 * the delta again, and the target still ends with every key once and current values.
 * Part of the conformance suite: every destination of the harness that `outflow run` in a
 * child process reaches.
 */
const ROWS = 300;
const figures: Record<string, { kills: number; converged: number }> = {};

beforeAll(() => buildCli(), 120_000);
afterAll(() => {
  removeCliBuild();
  for (const [engine, f] of Object.entries(figures)) console.log(`exactly-once ${engine}: ${f.kills} kills, ${f.converged} converged`);
});

const KILLABLE = DESTINATION_HARNESSES.filter((h) => h.cli);

describe.each(KILLABLE.map((h) => [h.name, h] as const))('exactly once on %s', (engine, h) => {
  describe.each(h.modes)('%s: SIGKILL at each point of a run, then the next run', (mode) => {
    let f: Fixture;
    let file: string;
    let round = 0;
    beforeAll(async () => {
      f = await h.open(`once_${mode}`);
      await f.warehouseSql(`CREATE TABLE items AS SELECT i::INTEGER AS id, 'n' || i AS name, i AS v FROM range(1, ${ROWS + 1}) t(i)`);
      await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, name text, v integer)`);
      file = f.pipelineFile({ mode });
      const first = await runCli(['run', file]);
      expect(first.code, first.stderr).toBe(0);
    }, 600_000);
    afterAll(async () => {
      await f?.close();
    });

    it.each(KILL_POINTS[h.shape])('killed at %s', async (point) => {
      const k = round++;
      figures[engine] ??= { kills: 0, converged: 0 };
      const before = Number((await f.query<{ n: number }>(`SELECT count(*) AS n FROM "${f.table}"`))[0].n);
      // Some rows change, some arrive, one leaves.
      const next = ROWS + 1 + k * 10;
      await f.warehouseSql([
        `UPDATE items SET v = v + 1 WHERE id % 7 = ${k}`,
        `INSERT INTO items SELECT i, 'new ' || i, i FROM range(${next}, ${next + 10}) t(i)`,
        `DELETE FROM items WHERE id = ${k + 1}`,
      ]);
      const started = await startPaused(['run', file], point, join(f.dir, `pause-${k}`));
      expect(started.paused, `did not reach ${point}: ${started.result?.stderr}`).toBe(true);
      expect((await killHard(started.run)).signal).toBe('SIGKILL');
      figures[engine].kills++;

      const r = await runCli(['--json', 'run', file]);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const dups = await f.query<{ n: number }>(`SELECT count(*) AS n FROM (SELECT id FROM "${f.table}" GROUP BY id HAVING count(*) > 1) d`);
      expect(Number(dups[0].n)).toBe(0);
      // Every key once: each round adds 10 keys and removes one; the modes that remove follow
      // the model, update adds none, the others keep what left the model.
      const expected = mode === 'mirror' || mode === 'replace' ? ROWS + 9 * (k + 1) : mode === 'update' ? before : before + 10;
      const held = await f.query<{ n: number }>(`SELECT count(*) AS n FROM "${f.table}"`);
      expect(Number(held[0].n)).toBe(expected);
      if (h.readBack) {
        const v = await verifyPipeline(loadPipeline(file));
        expect(v, JSON.stringify(v)).toMatchObject({ consistent: true, missing: mode === 'update' ? v.missing : 0 });
        if (mode === 'mirror' || mode === 'replace') expect(v.equal).toBe(true);
      }
      // Once through, a run finds nothing left to send.
      const again = JSON.parse((await runCli(['--json', 'run', file])).stdout);
      expect(again.counts.sent).toBe(mode === 'replace' ? again.counts.read : 0);
      figures[engine].converged++;
    }, 600_000); // several CLI processes per test on a loaded machine
  });
});
