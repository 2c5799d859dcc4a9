import { afterEach, describe, expect, it } from 'vitest';
import { runPipeline, describeAndPrepare } from '../../src/engine/run-pipeline.js';
import { openDestination, openSource } from '../../src/engine/connect.js';
import { verifyPipeline } from '../../src/engine/verify.js';
import { ConfigError } from '../../src/errors.js';
import type { Fixture } from '../support/change-fixture.js';
import { DESTINATION_HARNESSES } from '../support/destination-harness.js';

/**
 * One suite for every destination (test/support/destination-harness.ts): the same bodies,
 * skipped by what a destination declares. Each sync mode on a composite key (a, b): the
 * target starts with a row the model also has, with another value — (1, x) — and a row
 * the model never had — (9, z). Step 2 changes (1, x), adds (3, q) and removes (2, x).
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

/** Rows in the target, and how many match `where`: plain SQL every destination's view reads, numbers whatever the driver returns. */
async function count(fx: Fixture, where = 'false'): Promise<{ n: number; matching: number }> {
  const [row] = await fx.query<{ n: unknown; matching: unknown }>(`SELECT count(*) AS n, sum(CASE WHEN ${where} THEN 1 ELSE 0 END) AS matching FROM "${fx.table}"`);
  return { n: Number(row.n), matching: Number(row.matching ?? 0) };
}
afterEach(async () => {
  await f?.close();
  f = undefined;
});

describe.each(DESTINATION_HARNESSES)('destination conformance: $name', (h) => {
  async function setUp(prefix: string, targetRows: string): Promise<Fixture> {
    const fx = await h.open(prefix);
    await fx.warehouseSql(STEP1_MODEL);
    await fx.query(`CREATE TABLE "${fx.table}" (a integer, b varchar(10), v integer, PRIMARY KEY (a, b))`);
    if (targetRows) await fx.query(`INSERT INTO "${fx.table}" VALUES ${targetRows}`);
    return fx;
  }
  const rows = (fx: Fixture) => fx.query<Row>(`SELECT a, b, v FROM "${fx.table}" ORDER BY a, b`);

  it.each(Object.keys(EXPECTED).filter((m) => h.modes.includes(m as never)))('mode %s on a composite key', async (mode) => {
    f = await setUp(`conf_${mode}`, `(1, 'x', 100), (9, 'z', 900)`);
    const p = f.pipeline({ mode, key: '[a, b]' });
    const r1 = await runPipeline(p);
    expect(r1.error).toBeUndefined();
    expect(r1.status).toBe('success');
    // A record destination cannot list its target: a full mirror sync leaves rows it never delivered.
    const step1 = mode === 'mirror' && !h.mirrorDeletesUnknownRows ? [...EXPECTED.mirror.step1, r(9, 'z', 900)] : EXPECTED[mode].step1;
    expect(await rows(f)).toEqual(step1);

    await f.warehouseSql(STEP2_CHANGES);
    const r2 = await runPipeline(p);
    expect(r2.error).toBeUndefined();
    expect(r2.status).toBe('success');
    const step2 = mode === 'mirror' && !h.mirrorDeletesUnknownRows ? [...EXPECTED.mirror.step2, r(9, 'z', 900)] : EXPECTED[mode].step2;
    expect(await rows(f)).toEqual(step2);
    if (mode === 'mirror') expect(r2.counts).toMatchObject({ added: 1, changed: 1, removed: 1, inserted: 1, updated: 1, deleted: 1, sent: 2 });
    if (mode === 'upsert') expect(r2.counts).toMatchObject({ added: 1, changed: 1, removed: 0, leftModel: 1, inserted: 1, updated: 1, deleted: 0, sent: 2 });
    if (mode === 'insert_new') expect(r2.counts).toMatchObject({ added: 1, changed: 1, notSent: 1, inserted: 1, sent: 1 });
    // A table is emptied and filled again; a record destination deletes only what the model lost, (2, x).
    if (mode === 'replace') expect(r2).toMatchObject({ syncKind: 'full', counts: { deleted: h.shape === 'bulk' ? 3 : 1, inserted: 3 } });
  });

  const missing = (['insert', 'insert_new', 'update', 'upsert', 'mirror', 'replace'] as const).find((m) => !h.modes.includes(m));
  it.skipIf(!missing)('a mode the destination does not offer fails at validate, naming the modes it offers', async () => {
    if (!missing) return;
    f = await setUp('conf_nomode', '');
    const p = f.pipeline({ mode: missing, key: '[a, b]' });
    const source = await openSource(p);
    const dest = await openDestination(p, { isDryRun: true });
    try {
      const err = await describeAndPrepare(p, source, dest, false).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toContain(`does not offer mode ${missing}; it offers ${h.modes.join(', ')}`);
    } finally {
      await dest.close();
      await source.close();
    }
    const run = await runPipeline(p);
    expect(run.status).toBe('failed');
    expect(run.error).toContain(`it offers ${h.modes.join(', ')}`);
    expect(await rows(f)).toEqual([]);
  });

  it.skipIf(!h.modes.includes('insert'))('insert fails on a key the target already has, naming the key, and leaves the target as it was', async () => {
    f = await setUp('conf_insert_dup', `(1, 'x', 100), (9, 'z', 900)`);
    const p = f.pipeline({ mode: 'insert', key: '[a, b]' });
    const before = await rows(f);
    const r1 = await runPipeline(p);
    expect(r1.status).toBe('failed');
    expect(r1.error).toMatch(h.messages.duplicateKey);
    expect(r1.error).toMatch(/insert failed/);
    expect(await rows(f)).toEqual(before);
  });

  it.skipIf(!h.modes.includes('insert'))('insert sends new keys only and never updates', async () => {
    f = await setUp('conf_insert', `(9, 'z', 900)`);
    const p = f.pipeline({ mode: 'insert', key: '[a, b]' });
    const r1 = await runPipeline(p);
    expect(r1.status).toBe('success');
    expect(r1.counts).toMatchObject({ inserted: 3 });
    await f.warehouseSql(STEP2_CHANGES);
    const r2 = await runPipeline(p);
    expect(r2.status).toBe('success');
    expect(r2.counts).toMatchObject({ added: 1, changed: 1, notSent: 1, sent: 1, inserted: 1 });
    expect(await rows(f)).toEqual([r(1, 'x', 1), r(1, 'y', 2), r(2, 'x', 3), r(3, 'q', 4), r(9, 'z', 900)]);
  });

  it.skipIf(!h.refusesValues)('a refused row is isolated and reported by key; the rest arrive; once fixed it is sent again alone', async () => {
    f = await h.open('conf_rejected');
    await f.warehouseSql(
      `CREATE TABLE items AS SELECT i::INTEGER AS id, CASE WHEN i = 70 THEN 'ABC' ELSE 'C' || (i % 10) END AS code, i AS v FROM range(1, 201) t(i)`,
    );
    await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, code varchar(2), v bigint)`);
    const p = f.pipeline({ mode: 'upsert' });
    const r1 = await runPipeline(p);
    expect(r1.error).toBeUndefined();
    expect(r1.status).toBe('partial');
    expect(r1.counts).toMatchObject({ read: 200, rejected: 1, inserted: 199 });
    expect(r1.rejected).toHaveLength(1);
    expect(r1.rejected[0].key).toEqual({ id: 70 });
    if (h.namesRejectedColumn) expect(r1.rejected[0].column).toBe('code');
    expect(r1.rejected[0].reason).toMatch(h.messages.tooLong);
    expect(await count(f, 'id = 70')).toEqual({ n: 199, matching: 0 });

    // Not in the snapshot: the next run sends it again (and only it), still refused.
    const r2 = await runPipeline(p);
    expect(r2.counts).toMatchObject({ sent: 1, rejected: 1 });
    await f.warehouseSql(`UPDATE items SET code = 'AB' WHERE id = 70`);
    const r3 = await runPipeline(p);
    expect(r3.status).toBe('success');
    expect(r3.counts).toMatchObject({ sent: 1, rejected: 0 });
    expect(await f.query(`SELECT code FROM "${f.table}" WHERE id = 70`)).toEqual([{ code: 'AB' }]);
  });

  it.skipIf(h.nulInText === undefined)(`a NUL byte in text is ${h.nulInText === 'refused' ? 'refused before sending, with the destination reason' : 'stored as it is, and verify agrees'}`, async () => {
    f = await h.open('conf_nul');
    await f.warehouseSql(`CREATE TABLE items AS SELECT i::INTEGER AS id, CASE WHEN i = 3 THEN 'a' || chr(0) || 'b' ELSE 'ok' END AS name FROM range(1, 6) t(i)`);
    await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, name text)`);
    const p = f.pipeline({ mode: 'upsert' });
    const run = await runPipeline(p);
    if (h.nulInText === 'refused') {
      expect(run.status).toBe('partial');
      expect(run.rejected).toEqual([expect.objectContaining({ key: { id: 3 }, column: 'name', reason: expect.stringMatching(/^column name: text contains a NUL byte, which .* cannot store$/) })]);
      expect((await count(f)).n).toBe(4);
      return;
    }
    expect(run.status, run.error).toBe('success');
    expect(await f.query(`SELECT name FROM "${f.table}" WHERE id = 3`)).toEqual([{ name: 'a\u0000b' }]);
    expect(await verifyPipeline(p)).toMatchObject({ equal: true, modelRows: 5 });
  });

  it.skipIf(!h.readBack)('verify reads the destination back and finds a row changed behind outflow', async () => {
    f = await setUp('conf_verify', '');
    const p = f.pipeline({ mode: 'upsert', key: '[a, b]' });
    expect((await runPipeline(p)).status).toBe('success');
    expect(await verifyPipeline(p)).toMatchObject({ equal: true, modelRows: 3, destinationRows: 3 });
    await f.query(`UPDATE "${f.table}" SET v = 99 WHERE a = 1 AND b = 'y'`);
    expect(await verifyPipeline(p)).toMatchObject({ equal: false, different: 1, differentColumns: { v: 1 } });
  });
});
