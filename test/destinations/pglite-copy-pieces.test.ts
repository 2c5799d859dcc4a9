import { afterEach, describe, expect, it } from 'vitest';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { verifyPipeline } from '../../src/engine/verify.js';
import { connectEmbedded } from '../../src/destinations/postgres/pg-session.js';
import { openFixture, type Fixture } from '../support/change-fixture.js';
import { tempDir } from '../support/databases.js';

/**
 * PGlite reads COPY input from a Blob, so outflow loads it in ~8 MiB pieces. The FIFO reader
 * hands on 1 MiB buffers that end mid-row; these tests send well over three pieces' worth
 * (≥ 30 MiB of COPY text, rows of varied widths) so piece boundaries fall inside rows.
 */
const ROWS = 300_000;
const MODEL = `CREATE TABLE items AS SELECT i::BIGINT AS id, 'email' || i || '@example.com' AS email,
  repeat('x', ((i * 7919) % 150)::INTEGER) AS pad, i * 1.5 AS v FROM range(1, ${ROWS + 1}) t(i)`;

let f: Fixture | undefined;
const savedFifo = process.env.OUTFLOW_NO_FIFO;
afterEach(async () => {
  await f?.close();
  f = undefined;
  if (savedFifo === undefined) delete process.env.OUTFLOW_NO_FIFO;
  else process.env.OUTFLOW_NO_FIFO = savedFifo;
});

/** Bytes of COPY text the model renders (row number, four columns, tabs, newline). */
async function copyTextBytes(fx: Fixture): Promise<number> {
  const [r] = await fx.warehouseRows<{ n: string }>(
    `SELECT sum(length(CAST(id AS VARCHAR)) * 2 + length(email) + length(pad) + length(CAST(v AS VARCHAR)) + 5) AS n FROM items`,
  );
  return Number(r.n);
}

describe.each([
  ['the FIFO path', '0'],
  ['the fallback path (OUTFLOW_NO_FIFO=1)', '1'],
])('PGlite loads of more than three COPY pieces through %s', (_path, noFifo) => {
  it('every row arrives whole, nothing is rejected, verify finds the model', { timeout: 600_000 }, async () => {
    process.env.OUTFLOW_NO_FIFO = noFifo;
    f = await openFixture('pgl_pieces', 'pglite');
    await f.warehouseSql(MODEL);
    expect(await copyTextBytes(f)).toBeGreaterThan(30 * 1024 * 1024);
    // A target that already holds a row, so the load goes through staging (not the
    // direct load into an empty table) and the merge sees every key once.
    await f.query(`CREATE TABLE "${f.table}" (id bigint PRIMARY KEY, email text, pad text, v numeric)`);
    await f.query(`INSERT INTO "${f.table}" VALUES (1, 'old', '', 0)`);
    const p = f.pipeline({ mode: 'upsert' });

    const r = await runPipeline(p);
    expect(r.error).toBeUndefined();
    expect(r.rejected).toEqual([]);
    expect(r.status).toBe('success');
    expect(r.counts).toMatchObject({ read: ROWS, rejected: 0, inserted: ROWS - 1, updated: 1 });
    expect(await f.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS k, sum(length(pad))::bigint::text AS pad FROM "${f.table}"`)).toEqual([
      { n: ROWS, k: ROWS, pad: String((await f.warehouseRows<{ s: string }>(`SELECT sum(length(pad)) AS s FROM items`))[0].s) },
    ]);
    const v = await verifyPipeline(p);
    expect(v).toMatchObject({ equal: true, missing: 0, extra: 0, different: 0 });
  });
});

describe('row isolation on PGlite when a later piece holds a bad row', () => {
  it('rejects only that row; no key is staged twice; the merge succeeds', { timeout: 600_000 }, async () => {
    f = await openFixture('pgl_isolate', 'pglite');
    // Row 250,000 sits in the fourth or fifth piece; its pad is too long for the target.
    await f.warehouseSql([MODEL, `UPDATE items SET pad = repeat('y', 200) WHERE id = 250000`]);
    await f.query(`CREATE TABLE "${f.table}" (id bigint PRIMARY KEY, email text, pad varchar(160), v numeric)`);
    const p = f.pipeline({ mode: 'upsert' });

    const r = await runPipeline(p);
    expect(r.error).toBeUndefined();
    expect(r.status).toBe('partial');
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0]).toMatchObject({ key: { id: 250000n }, column: 'pad' });
    expect(r.rejected[0].reason).toMatch(/value too long/);
    expect(r.counts).toMatchObject({ read: ROWS, rejected: 1, inserted: ROWS - 1 });
    expect(await f.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS k FROM "${f.table}"`)).toEqual([{ n: ROWS - 1, k: ROWS - 1 }]);
    const v = await verifyPipeline(p);
    expect(v).toMatchObject({ equal: false, missing: 1, extra: 0, different: 0 });
  });

  it('a failed copyFrom leaves none of its pieces behind, inside a transaction or not', { timeout: 300_000 }, async () => {
    const session = await connectEmbedded(tempDir('outflow-pgl-atomic-'));
    try {
      await session.query(`CREATE TABLE t (id bigint, pad varchar(100))`);
      // ~20 MiB of rows, the bad one near the end (third piece); then a good load of one row.
      const rows = (n: number, bad: number) =>
        (async function* () {
          const line = (i: number) => `${i}\t${i === bad ? 'z'.repeat(101) : 'p'.repeat(i % 100)}\n`;
          for (let i = 1; i <= n; i += 10_000) {
            let s = '';
            for (let j = i; j < i + 10_000 && j <= n; j++) s += line(j);
            yield Buffer.from(s);
          }
        })();
      const count = async () => Number((await session.query<{ n: string }>(`SELECT count(*)::text AS n FROM t`)).rows[0].n);

      const failed = await session.copyFrom(`COPY t (id, pad) FROM STDIN`, rows(400_000, 390_000)).catch((e: unknown) => e);
      expect(String((failed as Error).message)).toMatch(/value too long/);
      // Line numbers count from the start of the stream, whatever piece the row was in.
      expect((failed as { outflowLineOffset?: number }).outflowLineOffset).toBeGreaterThan(0);
      expect(Number(/line (\d+)/.exec((failed as { where: string }).where)![1]) + (failed as { outflowLineOffset: number }).outflowLineOffset).toBe(390_000);
      expect(await count()).toBe(0);

      await session.query('BEGIN');
      await session.query(`INSERT INTO t VALUES (0, 'kept')`);
      expect(await session.copyFrom(`COPY t (id, pad) FROM STDIN`, rows(400_000, 390_000)).catch(() => 'failed')).toBe('failed');
      await session.query('COMMIT');
      expect(await count()).toBe(1);
    } finally {
      await session.close();
    }
  });
});
