import { afterEach, describe, expect, it } from 'vitest';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { openFixture, type Fixture } from '../support/change-fixture.js';

/**
 * Each sync mode on a table with a composite key (a, b). The target starts with a row the
 * model also has, with another value — (1, x) — and a row the model never had — (9, z).
 * Step 2 changes (1, x), adds (3, q) and removes (2, x).
 */
type Row = { a: number; b: string; v: number };
const STEP1_MODEL = `CREATE TABLE items AS SELECT * FROM (VALUES (1, 'x', 1), (1, 'y', 2), (2, 'x', 3)) t(a, b, v)`;
const STEP2_CHANGES = [`UPDATE items SET v = 10 WHERE a = 1 AND b = 'x'`, `INSERT INTO items VALUES (3, 'q', 4)`, `DELETE FROM items WHERE a = 2 AND b = 'x'`];
const r = (a: number, b: string, v: number): Row => ({ a, b, v });

const EXPECTED: Record<string, { step1: Row[]; step2: Row[] }> = {
  insert_new: {
    step1: [r(1, 'x', 100), r(1, 'y', 2), r(2, 'x', 3), r(9, 'z', 900)],
    step2: [r(1, 'x', 100), r(1, 'y', 2), r(2, 'x', 3), r(3, 'q', 4), r(9, 'z', 900)],
  },
  upsert: {
    step1: [r(1, 'x', 1), r(1, 'y', 2), r(2, 'x', 3), r(9, 'z', 900)],
    step2: [r(1, 'x', 10), r(1, 'y', 2), r(2, 'x', 3), r(3, 'q', 4), r(9, 'z', 900)],
  },
  update: {
    step1: [r(1, 'x', 1), r(9, 'z', 900)],
    step2: [r(1, 'x', 10), r(9, 'z', 900)],
  },
  mirror: {
    step1: [r(1, 'x', 1), r(1, 'y', 2), r(2, 'x', 3)],
    step2: [r(1, 'x', 10), r(1, 'y', 2), r(3, 'q', 4)],
  },
  replace: {
    step1: [r(1, 'x', 1), r(1, 'y', 2), r(2, 'x', 3)],
    step2: [r(1, 'x', 10), r(1, 'y', 2), r(3, 'q', 4)],
  },
};

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

async function setUp(prefix: string, targetRows: string): Promise<Fixture> {
  const fx = await openFixture(prefix);
  await fx.warehouseSql(STEP1_MODEL);
  await fx.query(`CREATE TABLE "${fx.table}" (a integer, b text, v integer, PRIMARY KEY (a, b))`);
  if (targetRows) await fx.query(`INSERT INTO "${fx.table}" VALUES ${targetRows}`);
  return fx;
}

const rows = (fx: Fixture) => fx.query<Row>(`SELECT a, b, v FROM "${fx.table}" ORDER BY a, b`);

describe('sync modes with a composite key on postgres', () => {
  it.each(Object.keys(EXPECTED))('%s', async (mode) => {
    f = await setUp(`mode_${mode}`, `(1, 'x', 100), (9, 'z', 900)`);
    const p = f.pipeline({ mode, key: '[a, b]' });
    const r1 = await runPipeline(p);
    expect(r1.error).toBeUndefined();
    expect(r1.status).toBe('success');
    expect(await rows(f)).toEqual(EXPECTED[mode].step1);

    await f.warehouseSql(STEP2_CHANGES);
    const r2 = await runPipeline(p);
    expect(r2.error).toBeUndefined();
    expect(r2.status).toBe('success');
    expect(await rows(f)).toEqual(EXPECTED[mode].step2);
    if (mode === 'mirror') expect(r2.counts).toMatchObject({ added: 1, changed: 1, removed: 1, inserted: 1, updated: 1, deleted: 1, sent: 2 });
    if (mode === 'upsert') expect(r2.counts).toMatchObject({ added: 1, changed: 1, removed: 0, inserted: 1, updated: 1, deleted: 0, sent: 2 });
    if (mode === 'insert_new') expect(r2.counts).toMatchObject({ added: 1, changed: 0, inserted: 1, sent: 1 });
    if (mode === 'replace') expect(r2).toMatchObject({ syncKind: 'full', counts: { deleted: 3, inserted: 3 } });
  });

  it('insert fails on a key the target already has, naming the key, and leaves the target as it was', async () => {
    f = await setUp('mode_insert_dup', `(1, 'x', 100), (9, 'z', 900)`);
    const p = f.pipeline({ mode: 'insert', key: '[a, b]' });
    const before = await rows(f);
    const r1 = await runPipeline(p);
    expect(r1.status).toBe('failed');
    expect(r1.error).toContain('Key (a, b)=(1, x) already exists');
    expect(r1.error).toMatch(/insert failed/);
    expect(await rows(f)).toEqual(before);
  });

  it('insert sends new keys only and never updates', async () => {
    f = await setUp('mode_insert', `(9, 'z', 900)`);
    const p = f.pipeline({ mode: 'insert', key: '[a, b]' });
    const r1 = await runPipeline(p);
    expect(r1.status).toBe('success');
    expect(r1.counts).toMatchObject({ inserted: 3 });
    await f.warehouseSql(STEP2_CHANGES);
    const r2 = await runPipeline(p);
    expect(r2.status).toBe('success');
    expect(r2.counts).toMatchObject({ added: 1, changed: 0, sent: 1, inserted: 1 });
    expect(await rows(f)).toEqual([r(1, 'x', 1), r(1, 'y', 2), r(2, 'x', 3), r(3, 'q', 4), r(9, 'z', 900)]);
  });
});
