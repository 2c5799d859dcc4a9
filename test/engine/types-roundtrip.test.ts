import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { verifyPipeline } from '../../src/engine/verify.js';
import { DESTINATION_ENGINES, duckdbExec, openTestDestination, tempDir, uniqueName, writeFile, type TestDestination } from '../support/databases.js';

/** Every supported type, with edge values, from DuckDB into a table outflow creates. */
const MODEL = `
CREATE TABLE typed AS SELECT * FROM (VALUES
  (1, 9223372036854775807::BIGINT, 2147483647::INTEGER, 32767::SMALLINT,
   12345678901234567890123456789.123456789::DECIMAL(38,9), 0.1::DOUBLE, 'plain'::VARCHAR,
   true, DATE '1969-07-20', TIME '23:59:59.999999', TIMESTAMP '2024-02-29 12:34:56.123456',
   TIMESTAMPTZ '2024-01-01 00:00:00.000001+05:30', INTERVAL '1 year 2 months 3 days 04:05:06.5',
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID, '{"a": {"b": [1, 2, null]}, "c": "x"}'::JSON,
   '\\x00\\xff\\x5c'::BLOB, [1, NULL, 3]::BIGINT[], ['a', 'b"c', 'd\\e', NULL, '']::VARCHAR[],
   [[1.5, 2.25], [3.125, NULL]]::DECIMAL(10,3)[][]),
  (2, (-9223372036854775808)::BIGINT, (-2147483648)::INTEGER, (-32768)::SMALLINT,
   -0.000000001::DECIMAL(38,9), -1.7976931348623157e308::DOUBLE, 'tab\\there' || chr(9) || 'nl' || chr(10) || 'cr' || chr(13) || 'back\\\\slash 😀 Ünïcödé',
   false, '0044-03-15 (BC)'::DATE, TIME '00:00:00', TIMESTAMP '1900-01-01 00:00:00',
   TIMESTAMPTZ '1970-01-01 00:00:00+00', INTERVAL '-1 day',
   '00000000-0000-0000-0000-000000000000'::UUID, '[]'::JSON,
   ''::BLOB, []::BIGINT[], []::VARCHAR[], []::DECIMAL(10,3)[][]),
  (3, NULL, NULL, NULL, NULL, NULL, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (4, 0, 0, 0, 0, 'inf'::DOUBLE, NULL, NULL, DATE '2000-01-01', NULL, NULL, NULL, NULL, NULL, 'null'::JSON, NULL, [NULL]::BIGINT[], [NULL]::VARCHAR[], NULL)
) t(id, i64, i32, i16, dec, f64, txt, flag, d, tm, ts, tstz, iv, u, j, b, ai, atxt, adec)`;

describe.each(DESTINATION_ENGINES)('type round trip DuckDB → %s', (engine) => {
  let dir: string;
  let db: TestDestination;
  let table: string;
  let file: string;

  beforeAll(async () => {
    dir = tempDir();
    db = await openTestDestination(engine, dir);
    table = uniqueName('typed');
    const warehouse = join(dir, 'w.duckdb');
    await duckdbExec(warehouse, MODEL);
    file = writeFile(
      join(dir, 'typed.yaml'),
      `name: typed_${engine}\nsource:\n  type: duckdb\n  path: ${warehouse}\nmodel:\n  table: typed\n${db.yaml(table)}primary_key: id\nstate:\n  dir: ${join(dir, 'state')}\n`,
    );
  });
  afterAll(async () => {
    if (engine === 'postgres') await db.query(`DROP TABLE IF EXISTS ${table}`);
    await db.close();
  });

  it('creates faithful column types and delivers every value exactly', async () => {
    const r = await runPipeline(loadPipeline(file));
    expect(r.error).toBeUndefined();
    expect(r.counts).toMatchObject({ read: 4, inserted: 4, rejected: 0 });

    const types = await db.query<{ column_name: string; t: string }>(
      `SELECT a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS t FROM pg_attribute a
        WHERE a.attrelid = $1::regclass AND a.attnum > 0 ORDER BY a.attnum`,
      [table],
    );
    expect(Object.fromEntries(types.map((x) => [x.column_name, x.t]))).toEqual({
      id: 'integer',
      i64: 'bigint',
      i32: 'integer',
      i16: 'smallint',
      dec: 'numeric(38,9)',
      f64: 'double precision',
      txt: 'text',
      flag: 'boolean',
      d: 'date',
      tm: 'time without time zone',
      ts: 'timestamp without time zone',
      tstz: 'timestamp with time zone',
      iv: 'interval',
      u: 'uuid',
      j: 'jsonb',
      b: 'bytea',
      ai: 'bigint[]',
      atxt: 'text[]',
      adec: 'numeric(10,3)[]',
    });

    // Compared in Postgres against typed literals, value by value (not as text).
    const checks = await db.query<Record<string, boolean>>(`
      SELECT
        i64 = 9223372036854775807 AS i64_max, i32 = 2147483647 AS i32, i16 = 32767 AS i16,
        dec = 12345678901234567890123456789.123456789 AS dec, f64 = 0.1::float8 AS f64, txt = 'plain' AS txt, flag AS flag,
        d = '1969-07-20' AS d, tm = '23:59:59.999999' AS tm, ts = '2024-02-29 12:34:56.123456' AS ts,
        tstz = '2023-12-31 18:30:00.000001+00' AS tstz, iv = '1 year 2 mons 3 days 04:05:06.5' AS iv,
        u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' AS u, j = '{"a": {"b": [1, 2, null]}, "c": "x"}'::jsonb AS j,
        b = '\\x00ff5c'::bytea AS b, ai IS NOT DISTINCT FROM ARRAY[1, NULL, 3]::bigint[] AS ai,
        atxt = ARRAY['a', 'b"c', 'd\\e', NULL, '']::text[] AS atxt, adec = ARRAY[[1.5, 2.25], [3.125, NULL]]::numeric[] AS adec
      FROM ${table} WHERE id = 1`);
    const row1 = checks[0];
    expect(row1).toEqual(Object.fromEntries(Object.keys(row1).map((k) => [k, true])));

    const row2 = (
      await db.query<Record<string, boolean>>(`
      SELECT i64 = -9223372036854775808 AS i64_min, i32 = -2147483648 AS i32, i16 = -32768 AS i16,
        dec = -0.000000001 AS dec, f64 = -1.7976931348623157e308::float8 AS f64,
        txt = E'tab\\\\there\\ttnl\\nlcr\\rrback\\\\\\\\slash 😀 Ünïcödé' AS txt_ok, flag = false AS flag,
        tstz = '1970-01-01 00:00:00+00' AS tstz, iv = '-1 day' AS iv, j = '[]'::jsonb AS j, b = ''::bytea AS b,
        cardinality(ai) = 0 AS ai, cardinality(atxt) = 0 AS atxt, d = '0044-03-15 BC'::date AS bc
      FROM ${table} WHERE id = 2`)
    )[0];
    expect(row2).toMatchObject({ i64_min: true, i32: true, i16: true, dec: true, f64: true, flag: true, tstz: true, iv: true, j: true, b: true, ai: true, atxt: true, bc: true });
    const txt2 = (await db.query<{ txt: string }>(`SELECT txt FROM ${table} WHERE id = 2`))[0].txt;
    expect(txt2).toBe('tab\\there\tnl\ncr\rback\\\\slash 😀 Ünïcödé');

    const row3 = (await db.query<Record<string, unknown>>(`SELECT txt, i64, j, b, ai FROM ${table} WHERE id = 3`))[0];
    expect(row3).toEqual({ txt: '', i64: null, j: null, b: null, ai: null }); // empty string stays empty, NULL stays NULL
    const row4 = (await db.query<Record<string, unknown>>(`SELECT f64 = 'Infinity'::float8 AS inf, j = 'null'::jsonb AS jnull, ai IS NOT DISTINCT FROM ARRAY[NULL]::bigint[] AS ai FROM ${table} WHERE id = 4`))[0];
    expect(row4).toEqual({ inf: true, jnull: true, ai: true });

    const v = await verifyPipeline(loadPipeline(file));
    expect({ missing: v.missing, extra: v.extra, different: v.differentColumns }).toEqual({ missing: 0, extra: 0, different: {} });
  });
});
