import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresSource } from '../../src/sources/postgres/postgres-source.js';
import { postgresSourceConfig } from '../../src/sources/postgres/postgres-config.js';
import { formatType, type Batch, type Value } from '../../src/types/logical-type.js';
import { ModelError, SchemaMismatchError } from '../../src/errors.js';

const URL = process.env.OUTFLOW_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `outflow_src_${randomBytes(4).toString('hex')}`;
const q = (name: string) => `"${schema}"."${name}"`;

let admin: pg.Pool;
let source: PostgresSource;

beforeAll(async () => {
  admin = new pg.Pool({ connectionString: URL, max: 2 });
  await admin.query(`CREATE SCHEMA "${schema}"`);
  source = await PostgresSource.open(postgresSourceConfig.parse({ type: 'postgres', url: URL }), process.cwd());
});

afterAll(async () => {
  await source?.close();
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

async function readAll(batches: AsyncIterable<Batch>): Promise<Value[][][]> {
  const out: Value[][][] = [];
  for await (const b of batches) out.push(b.rows);
  return out;
}

describe('postgres source', () => {
  it('reads a row of edge values exactly, and a row of NULLs', async () => {
    await admin.query(`
      CREATE TYPE "${schema}".mood AS ENUM ('happy', 'sad');
      CREATE DOMAIN "${schema}".price AS numeric(7,2);
      CREATE TABLE ${q('edge')} (
        id integer PRIMARY KEY, i2 smallint, i8min bigint, i8max bigint, d numeric(38,9), f4 real, f8 double precision,
        f8nan double precision, t text, t_empty text, vc varchar(10), ch char(3), b boolean,
        dt date, dt_bc date, tm time, ts timestamp, tstz timestamptz, iv interval, u uuid,
        j json, jb jsonb, by bytea, ai integer[], at text[], a2 integer[], ats timestamptz[], aby bytea[], ajb jsonb[],
        anum numeric(5,2)[], mood "${schema}".mood, price "${schema}".price
      );
      INSERT INTO ${q('edge')} VALUES (
        1, -32768, -9223372036854775808, 9223372036854775807, -12345678901234567890123456789.123456789,
        3.4028235e38, 1.7976931348623157e308, 'NaN',
        'héllo 😀 "q" \\ back', '', 'ünï', 'ab', true,
        '1969-12-31', '0044-03-15 BC', '23:59:59.999999', '1960-02-29 12:34:56.123456',
        '2024-03-10 02:30:00.000001-07', '1 year 2 mons 3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
        '{"b": 1,  "a": [1, {"c": null}]}', '{"b": 1, "a": [1, {"c": null}], "e": "😀"}', '\\x00ff10',
        '{1,NULL,3}', '{"a,b","NULL",NULL,"","q\\"t","{}"}', '{{1,2},{3,4}}',
        '{"1900-01-01 00:00:00.5+00",NULL}', '{"\\\\x01ff",NULL}', ARRAY['{"k": "v,}"}'::jsonb], '{1.50,-0.01}',
        'sad', 12345.67
      );
      INSERT INTO ${q('edge')} (id) VALUES (2);
    `);
    const model = { table: `${schema}.edge` };
    const described = await source.describe(model);
    expect(described.columns.map((c) => `${c.name}:${formatType(c.type)}${c.nullable ? '' : ' not null'}`)).toEqual([
      'id:int32 not null', 'i2:int16', 'i8min:int64', 'i8max:int64', 'd:decimal(38,9)', 'f4:float32', 'f8:float64',
      'f8nan:float64', 't:text', 't_empty:text', 'vc:text', 'ch:text', 'b:bool',
      'dt:date', 'dt_bc:date', 'tm:time', 'ts:timestamp', 'tstz:timestamptz', 'iv:interval', 'u:uuid',
      'j:json', 'jb:json', 'by:bytes', 'ai:int32[]', 'at:text[]', 'a2:int32[]', 'ats:timestamptz[]', 'aby:bytes[]', 'ajb:json[]',
      'anum:decimal(5,2)[]', 'mood:text', 'price:decimal(7,2)',
    ]);

    const batches = await readAll(source.read(model, described, { batchSize: 100 }));
    const rows = batches.flat().sort((a, b) => Number(a[0]) - Number(b[0]));
    expect(rows[0]).toEqual([
      1, -32768, -9223372036854775808n, 9223372036854775807n, '-12345678901234567890123456789.123456789',
      Math.fround(3.4028235e38), 1.7976931348623157e308, NaN,
      'héllo 😀 "q" \\ back', '', 'ünï', 'ab ', true,
      '1969-12-31', '0044-03-15 BC', '23:59:59.999999', '1960-02-29 12:34:56.123456',
      '2024-03-10 09:30:00.000001+00', '1 year 2 mons 3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      '{"b": 1,  "a": [1, {"c": null}]}', '{"a": [1, {"c": null}], "b": 1, "e": "😀"}', new Uint8Array([0, 255, 16]),
      [1, null, 3], ['a,b', 'NULL', null, '', 'q"t', '{}'], [[1, 2], [3, 4]],
      ['1900-01-01 00:00:00.5+00', null], [new Uint8Array([1, 255]), null], ['{"k": "v,}"}'], ['1.50', '-0.01'],
      'sad', '12345.67',
    ]);
    expect(rows[1]).toEqual([2, ...new Array(described.columns.length - 1).fill(null)]);
  });

  it('streams 25,000 rows at batchSize 10,000 as 3 batches through a cursor', async () => {
    await admin.query(`CREATE TABLE ${q('big')} AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 25000) g`);
    const model = { table: `${schema}.big` };
    const batches = await readAll(source.read(model, await source.describe(model), { batchSize: 10_000 }));
    expect(batches.map((b) => b.length)).toEqual([10_000, 10_000, 5_000]);
    expect(new Set(batches.flat().map((r) => r[0])).size).toBe(25_000);
  });

  it('fills batches from several FETCHes when fetch_size is smaller', async () => {
    const small = await PostgresSource.open(postgresSourceConfig.parse({ type: 'postgres', url: URL, fetch_size: 1000 }), '.');
    try {
      const model = { query: `SELECT id FROM ${q('big')} WHERE id <= 4500` };
      const batches = await readAll(small.read(model, await small.describe(model), { batchSize: 2000 }));
      expect(batches.map((b) => b.length)).toEqual([2000, 2000, 500]);
    } finally {
      await small.close();
    }
  });

  it('filters on the incremental cursor with a bound parameter', async () => {
    await admin.query(`CREATE TABLE ${q('cur')} (k text, n int)`);
    await admin.query(`INSERT INTO ${q('cur')} VALUES ('a', 1), ('b''', 2), ('c', 3)`);
    const model = { table: `${schema}.cur` };
    const s = await source.describe(model);
    const after = async (value: string) =>
      (await readAll(source.read(model, s, { batchSize: 10, cursor: { column: 'k', after: value } }))).flat();
    expect(await after('a')).toEqual([["b'", 2], ['c', 3]]);
    expect(await after("b' OR '1'='1")).toEqual([['c', 3]]);
    const byNumber = await readAll(source.read(model, s, { batchSize: 10, cursor: { column: 'n', after: '2' } }));
    expect(byNumber.flat()).toEqual([['c', 3]]);
  });

  it('returns its client to the pool when the reader stops early', async () => {
    const pool = new pg.Pool({ connectionString: URL, max: 1 });
    const own = new PostgresSource(pool);
    try {
      const model = { table: `${schema}.big` };
      const s = await own.describe(model);
      for await (const batch of own.read(model, s, { batchSize: 1000 })) {
        expect(batch.rows).toHaveLength(1000);
        break;
      }
      // With max: 1, a second read only starts if the first released its client outside a transaction.
      const again = await readAll(own.read({ query: `SELECT count(*)::int AS n FROM ${q('big')}` }, { columns: [{ name: 'n', type: { kind: 'int32' }, nullable: true }] }, { batchSize: 10 }));
      expect(again).toEqual([[[25_000]]]);
      expect(pool.idleCount).toBe(1);
    } finally {
      await own.close();
      await pool.end();
    }
  });

  it('refuses an unconstrained numeric and says which cast to write', async () => {
    const err = await source.describe({ query: `SELECT avg(id) AS total FROM ${q('big')}` }).catch((e) => e);
    expect(err).toBeInstanceOf(SchemaMismatchError);
    expect(err.message).toMatch(/"total".*numeric.*CAST\(x AS numeric\(38,9\)\)/s);
    const ok = await source.describe({ query: `SELECT sum(id)::numeric(20,0) AS total FROM ${q('big')}` });
    expect(ok.columns[0].type).toEqual({ kind: 'decimal', precision: 20, scale: 0 });
  });

  it('reports a missing table as a model error', async () => {
    const err = await source.describe({ table: `${schema}.nope` }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect(err.message).toMatch(/nope.*does not exist/);
  });
});
