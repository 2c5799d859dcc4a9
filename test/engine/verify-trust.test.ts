import { afterEach, describe, expect, it } from 'vitest';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { verifyPipeline } from '../../src/engine/verify.js';
import { verifyCommand } from '../../src/cli/verify-command.js';
import { AUTO_MEMORY_LIMIT_START_MB, autoMemoryLimitMb } from '../../src/duckdb/duckdb-memory.js';
import { openFixture, openNamesFixture, type Fixture } from '../support/change-fixture.js';
import { callCommand } from '../support/command-output.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

const ROWS = 200_000;

/**
 * Edge values: JSON whose key order and spacing Postgres' jsonb rewrites, text that
 * Postgres parses into date, numeric and uuid (and prints its own way: '1.5' → '1.5000',
 * upper-case uuids → lower case, '2024-1-5' → '2024-01-05'), text with tabs, newlines,
 * quotes, backslashes and non-ASCII, NULLs, extreme int64 and float values.
 */
const TRICKY_MODEL = `CREATE TABLE items AS SELECT
    i::INTEGER AS id,
    CASE WHEN i % 17 = 0 THEN NULL
         ELSE ('{ "zeta" : ' || i || ',  "a": [1, 2.50, {"y": true,  "x": null}], "mid":"caf\\u00e9 \\"q\\"", "n": {"b": 1, "aa": "' || repeat('z', i % 40) || '"} }')::JSON END AS doc,
    CASE WHEN i % 13 = 0 THEN NULL ELSE (2000 + i % 30) || '-' || (1 + i % 12) || '-' || (1 + i % 28) END AS day,
    CASE WHEN i % 11 = 0 THEN NULL ELSE (i % 100000) || '.' || (i % 10) END AS amount,
    upper(md5(i::VARCHAR)[1:8] || '-' || md5(i::VARCHAR)[9:12] || '-' || md5(i::VARCHAR)[13:16] || '-' || md5(i::VARCHAR)[17:20] || '-' || md5(i::VARCHAR)[21:32]) AS uid,
    CASE i % 7 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN E'tab\\there\\nnew ''q'' "dq" back\\\\slash' WHEN 3 THEN 'ünïcödé ✓ 𝄞' ELSE 'name ' || i END AS name,
    CASE i % 5 WHEN 0 THEN 9223372036854775807 WHEN 1 THEN -9223372036854775808 ELSE i::BIGINT * 1000003 END AS big,
    CASE i % 4 WHEN 0 THEN 1e308 WHEN 1 THEN -0.1 WHEN 2 THEN 1.0 / 3 ELSE i / 7.0 END::DOUBLE AS ratio,
    TIMESTAMPTZ '2024-03-10 01:59:59.123456+00' + to_seconds(i) AS at
  FROM range(1, ${ROWS + 1}) t(i)`;

const TARGET = (t: string) =>
  `CREATE TABLE "${t}" (id integer PRIMARY KEY, doc jsonb, day date, amount numeric(12,4), uid uuid, name text, big bigint, ratio double precision, at timestamptz)`;

describe('verify that can be trusted', () => {
  it('finds 200,000 rows of JSON, text-to-typed and edge values equal under the default memory settings, then exactly the three rows someone changed', async () => {
    f = await openFixture('vtrust');
    await f.warehouseSql(TRICKY_MODEL);
    await f.query(TARGET(f.table));
    const p = f.pipeline({ mode: 'mirror' });
    const run = await runPipeline(p);
    expect(run.status, run.error).toBe('success');
    expect(run.counts.inserted).toBe(ROWS);
    expect(autoMemoryLimitMb()).toBe(AUTO_MEMORY_LIMIT_START_MB);

    const v = await verifyPipeline(p);
    expect(autoMemoryLimitMb()).toBe(AUTO_MEMORY_LIMIT_START_MB);
    expect(v).toMatchObject({ modelRows: ROWS, destinationRows: ROWS, missing: 0, extra: 0, different: 0, equal: true, consistent: true });
    expect(v.differentColumns).toEqual({});

    // Someone edits the table directly: one value changed (inside the JSON), one row deleted, one added.
    await f.query(`UPDATE "${f.table}" SET doc = jsonb_set(doc, '{n,b}', '2') WHERE id = 4242`);
    await f.query(`DELETE FROM "${f.table}" WHERE id = 17`);
    await f.query(`INSERT INTO "${f.table}" (id, doc, day) VALUES (900001, '{}', '2024-01-01')`);
    const bad = await verifyPipeline(p);
    expect(bad).toMatchObject({ missing: 1, extra: 1, different: 1, equal: false, consistent: false });
    expect(bad.samples).toEqual({ missing: [[17]], extra: [[900001]], different: [[4242]] });
    expect(bad.differentColumns).toEqual({ doc: 1 });
  }, 600_000);

  it('compares a text model column as the typed destination column it feeds, and still sees a real difference there', async () => {
    f = await openFixture('vtyped');
    await f.warehouseSql(`CREATE TABLE items AS SELECT 1 AS id, '2024-1-5' AS day, '1.5' AS amount, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11' AS uid, '{"b": 1, "a": 2}' AS doc`);
    await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, day date, amount numeric(8,3), uid uuid, doc json)`);
    const p = f.pipeline({ mode: 'upsert' });
    expect((await runPipeline(p)).status).toBe('success');
    expect(await verifyPipeline(p)).toMatchObject({ equal: true, different: 0 });
    await f.query(`UPDATE "${f.table}" SET amount = 1.501, doc = '{"a": 2, "b": 1}'`);
    const v = await verifyPipeline(p);
    expect(v).toMatchObject({ different: 1, equal: false });
    expect(v.differentColumns).toEqual({ amount: 1 });
  });
});

describe('verify knows what each mode leaves in place', () => {
  it('upsert: a row that left the model stays in the destination, which verify reports as expected (exit 0)', async () => {
    f = await openNamesFixture('vupsert');
    const file = f.pipelineFile({ mode: 'upsert' });
    const p = f.pipeline({ mode: 'upsert' });
    expect((await runPipeline(p)).status).toBe('success');
    await f.warehouseSql(`DELETE FROM items WHERE id = 3`);
    expect((await runPipeline(p)).status).toBe('success');
    const v = await verifyPipeline(p);
    expect(v).toMatchObject({ extra: 1, missing: 0, different: 0, equal: false, consistent: true, expected: ['extra'] });
    const cli = await callCommand(verifyCommand, [file], { rows: '5' });
    expect(cli.code).toBe(0);
    expect(cli.out).toMatch(/consistent with upsert: 1 destination row\(s\) not in the model .* expected/);
    // A changed value is not what upsert leaves: that fails.
    await f.query(`UPDATE "${f.table}" SET name = 'x' WHERE id = 5`);
    const cli2 = await callCommand(verifyCommand, [file], { rows: '5' });
    expect(cli2.code).not.toBe(0);
    expect(cli2.out).toMatch(/^NOT equal$/m);
  });

  it('insert_new: a changed model row is not updated, which verify reports as expected; update: a new model row is not inserted', async () => {
    f = await openNamesFixture('vinsnew');
    const p = f.pipeline({ mode: 'insert_new' });
    expect((await runPipeline(p)).status).toBe('success');
    await f.warehouseSql(`UPDATE items SET name = 'changed' WHERE id = 4`);
    expect((await runPipeline(p)).status).toBe('success');
    expect(await verifyPipeline(p)).toMatchObject({ different: 1, equal: false, consistent: true, expected: ['extra', 'different'] });

    const u = f.pipeline({ mode: 'update' });
    await f.warehouseSql(`INSERT INTO items VALUES (11, 'n11')`);
    expect((await runPipeline(u)).status).toBe('success');
    expect(await verifyPipeline(u)).toMatchObject({ missing: 1, different: 0, consistent: true });
    expect(await verifyPipeline(f.pipeline({ mode: 'mirror' }))).toMatchObject({ missing: 1, consistent: false });
  });
});
