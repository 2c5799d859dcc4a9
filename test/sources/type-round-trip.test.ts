/**
 * A row of edge values from each source, through runPipeline, into a Postgres table that
 * outflow creates. The test checks the created column types, then compares the values in
 * Postgres, typed: each column against a typed literal with IS NOT DISTINCT FROM (numeric,
 * timestamptz, jsonb and bytea equality, not text), and the JS values pg parses.
 */
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { PG_URL, duckdbExec, tempDir, uniqueName, writeFile } from '../support/databases.js';
import { MYSQL_URL, mysqlAdmin, selectedSources, startBigqueryFake, writeParquet, type SourceEngine } from '../support/source-fixtures.js';

/** One expected destination column: its created type and the value of row 1 as a typed literal. */
interface Expected {
  pgType: string;
  value: string | null;
}

const TEXT = 'héllo 😀 "q" \\ back\ttab\nline, ünï 日本';
const JSON_TEXT = '{"a":{"b":[1,2.5,"x",null],"c":{"d":true}},"e":"😀","empty":""}';
const TEXTS = ['a', '', '😀', 'with,comma', 'q"uote', 'back\\slash', '{brace}'];
const UUID = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
const BYTES = Buffer.from([0, 255, 0x5c, 0x09, 0x0a, ...Buffer.from('outflow')]);

/** Row 1 as it must arrive; row 2 holds NULL in every column but the key. */
const EXPECTED: Record<string, Expected> = {
  big_max: { pgType: 'bigint', value: '9223372036854775807' },
  big_min: { pgType: 'bigint', value: '-9223372036854775808' },
  big_null: { pgType: 'bigint', value: null },
  dec: { pgType: 'numeric(38,9)', value: '-12345678901234567890123456789.123456789' },
  dec_tiny: { pgType: 'numeric(38,9)', value: '0.000000001' },
  ts: { pgType: 'timestamp without time zone', value: '1960-02-29 12:34:56.123456' },
  // Written in the source as 01:59:59.999999 at UTC-8.
  tstz: { pgType: 'timestamp with time zone', value: '2024-03-10 09:59:59.999999+00' },
  tstz_old: { pgType: 'timestamp with time zone', value: '1969-12-31 23:59:59.999999+00' },
  tm: { pgType: 'time without time zone', value: '23:59:59.999999' },
  iv: { pgType: 'interval', value: '-1 years -2 mons 3 days -04:05:06.789' },
  d: { pgType: 'date', value: '1969-07-20' },
  d_old: { pgType: 'date', value: '1900-02-28' },
  txt: { pgType: 'text', value: TEXT },
  empty: { pgType: 'text', value: '' },
  txt_null: { pgType: 'text', value: null },
  j: { pgType: 'jsonb', value: JSON_TEXT },
  ints: { pgType: 'bigint[]', value: '{1,-9223372036854775808,9223372036854775807}' },
  texts: { pgType: 'text[]', value: pgArray(TEXTS) },
  b: { pgType: 'bytea', value: `\\x${BYTES.toString('hex')}` },
  u: { pgType: 'uuid', value: UUID },
  flag: { pgType: 'boolean', value: 'true' },
  f: { pgType: 'double precision', value: '3.141592653589793' },
};

function pgArray(items: string[]): string {
  return `{${items.map((s) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;
}

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The same row as DuckDB SQL (the DuckDB source and the Parquet file are written from it). */
const DUCKDB_SELECT = `SELECT * FROM (VALUES
  (1::BIGINT, 9223372036854775807::BIGINT, (-9223372036854775808)::BIGINT, NULL::BIGINT,
   '-12345678901234567890123456789.123456789'::DECIMAL(38,9), '0.000000001'::DECIMAL(38,9),
   TIMESTAMP '1960-02-29 12:34:56.123456', TIMESTAMPTZ '2024-03-10 01:59:59.999999-08',
   TIMESTAMPTZ '1970-01-01 00:59:59.999999+01', TIME '23:59:59.999999',
   -INTERVAL '14 months' + INTERVAL '3 days' - INTERVAL '04:05:06.789', DATE '1969-07-20', DATE '1900-02-28', ${sqlString(TEXT)}, '', NULL::VARCHAR, ${sqlString(JSON_TEXT)}::JSON,
   [1, -9223372036854775808, 9223372036854775807]::BIGINT[], [${TEXTS.map(sqlString).join(', ')}]::VARCHAR[],
   from_hex('${BYTES.toString('hex')}'), '${UUID}'::UUID, true, 3.141592653589793::DOUBLE),
  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
) AS t(id, big_max, big_min, big_null, dec, dec_tiny, ts, tstz, tstz_old, tm, iv, d, d_old, txt, empty, txt_null, j, ints, texts, b, u, flag, f)`;

interface EdgeSource {
  yaml: string;
  /** Columns this engine cannot hold (MySQL has no arrays) and types it maps differently. */
  skip?: string[];
  types?: Record<string, string>;
  close(): Promise<void>;
}

const FIXTURES: Record<SourceEngine, (dir: string) => Promise<EdgeSource>> = {
  async duckdb(dir) {
    const path = join(dir, 'edge.duckdb');
    await duckdbExec(path, `CREATE TABLE edge AS ${DUCKDB_SELECT}`);
    return { yaml: `source:\n  type: duckdb\n  path: ${path}\nmodel:\n  table: edge\n`, close: async () => undefined };
  },

  async parquet(dir) {
    const path = join(dir, 'edge.parquet');
    // DuckDB's Parquet writer refuses negative intervals.
    await writeParquet(path, DUCKDB_SELECT.replace('SELECT * FROM', 'SELECT * EXCLUDE (iv) FROM'));
    return { yaml: `source:\n  type: files\n  path: ${path}\nmodel:\n  table: files\n`, skip: ['iv'], close: async () => undefined };
  },

  async postgres() {
    const schema = uniqueName('outflow_src');
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA "${schema}"`);
    const cols = Object.entries(EXPECTED).map(([name, e]) => `${name} ${e.pgType === 'timestamp with time zone' ? 'timestamptz' : e.pgType}`);
    await admin.query(`CREATE TABLE "${schema}".edge (id bigint PRIMARY KEY, ${cols.join(', ')}, j_plain json)`);
    const values = Object.entries(EXPECTED).map(([name, e]) =>
      name === 'tstz' ? '2024-03-10 01:59:59.999999-08' : name === 'tstz_old' ? '1970-01-01 00:59:59.999999+01' : e.value,
    );
    const params = values.map((_, i) => `$${i + 1}`).join(', ');
    await admin.query(`INSERT INTO "${schema}".edge VALUES (1, ${params}, $${values.length + 1})`, [...values, JSON_TEXT]);
    await admin.query(`INSERT INTO "${schema}".edge (id) VALUES (2)`);
    return {
      // json (not jsonb) in the source arrives as jsonb too.
      yaml: `source:\n  type: postgres\n  url: \${OUTFLOW_TEST_PG_URL}\nmodel:\n  table: ${schema}.edge\n`,
      types: { j_plain: 'jsonb' },
      close: async () => {
        await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
        await admin.end();
      },
    };
  },

  async mysql() {
    const table = uniqueName('outflow_edge');
    const admin = mysqlAdmin();
    // MySQL has no arrays or intervals, and TIMESTAMP starts in 1970 (no tstz_old). DEC is a keyword.
    await admin.query(`CREATE TABLE \`${table}\` (
      id bigint PRIMARY KEY, big_max bigint, big_min bigint, big_null bigint, \`dec\` decimal(38,9), dec_tiny decimal(38,9),
      ts datetime(6), tstz timestamp(6) NULL, tm time(6), d date, d_old date, txt text, empty varchar(10), txt_null text, j json,
      b varbinary(32), u uuid, flag boolean, f double) CHARACTER SET utf8mb4`);
    await admin.query(`SET time_zone = '-08:00'`);
    await admin.query(`INSERT INTO \`${table}\` VALUES (1, 9223372036854775807, -9223372036854775808, NULL,
      '-12345678901234567890123456789.123456789', '0.000000001', '1960-02-29 12:34:56.123456', '2024-03-10 01:59:59.999999', '23:59:59.999999',
      '1969-07-20', '1900-02-28', ?, '', NULL, ?, ?, ?, true, 3.141592653589793)`, [TEXT, JSON_TEXT, BYTES, UUID]);
    await admin.query(`INSERT INTO \`${table}\` (id) VALUES (2)`);
    return {
      yaml: `source:\n  type: mysql\n  url: ${MYSQL_URL}\nmodel:\n  table: ${table}\n`,
      skip: ['ints', 'texts', 'tstz_old', 'iv'],
      close: async () => {
        await admin.query(`DROP TABLE IF EXISTS \`${table}\``);
        await admin.close();
      },
    };
  },

  async bigquery() {
    const bq = await startBigqueryFake();
    const sql = 'SELECT * FROM warehouse.edge';
    const f = (name: string, type: string, mode: 'NULLABLE' | 'REPEATED' = 'NULLABLE') => ({ name, type, mode });
    // BigQuery's answer for the query, as canned wire values (the fake runs no SQL).
    bq.fake.addQuery(sql, {
      fields: [
        f('id', 'INTEGER'), f('big_max', 'INTEGER'), f('big_min', 'INTEGER'), f('big_null', 'INTEGER'), f('dec', 'NUMERIC'),
        f('dec_tiny', 'NUMERIC'), f('ts', 'DATETIME'), f('tstz', 'TIMESTAMP'), f('tstz_old', 'TIMESTAMP'), f('tm', 'TIME'), f('iv', 'INTERVAL'), f('d', 'DATE'), f('d_old', 'DATE'),
        f('txt', 'STRING'), f('empty', 'STRING'), f('txt_null', 'STRING'), f('j', 'JSON'), f('ints', 'INTEGER', 'REPEATED'),
        f('texts', 'STRING', 'REPEATED'), f('b', 'BYTES'), f('u', 'STRING'), f('flag', 'BOOLEAN'), f('f', 'FLOAT'),
      ],
      rows: [
        ['1', '9223372036854775807', '-9223372036854775808', null, '-12345678901234567890123456789.123456789', '1E-9',
          '1960-02-29T12:34:56.123456', '1710064799999999', '-1', '23:59:59.999999', '-1-2 3 -4:5:6.789', '1969-07-20', '1900-02-28', TEXT, '', null, JSON_TEXT,
          ['1', '-9223372036854775808', '9223372036854775807'], TEXTS, BYTES.toString('base64'), UUID, 'true', '3.141592653589793'],
        ['2', null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, [], [], null, null, null, null],
      ],
    });
    return {
      yaml: `${bq.sourceYaml}model:\n  query: ${sql}\n`,
      // BigQuery has no UUID type (a STRING), and REPEATED fields are never NULL: row 2 has [].
      types: { u: 'text' },
      close: bq.close,
    };
  },
};

describe.each(selectedSources())('type round trip from %s into Postgres', (engine) => {
  let dir: string;
  let source: EdgeSource;
  let dest: pg.Client;
  let table: string;
  let expected: [string, Expected][];

  beforeAll(async () => {
    dir = tempDir();
    source = await FIXTURES[engine](dir);
    table = uniqueName(`edge_from_${engine}`);
    expected = Object.entries(EXPECTED)
      .filter(([name]) => !source.skip?.includes(name))
      .map(([name, e]) => [name, { ...e, pgType: source.types?.[name] ?? e.pgType }]);
    // int8 as BigInt, so the JS comparison is exact too.
    dest = new pg.Client({
      connectionString: PG_URL,
      types: { getTypeParser: ((oid: number, format: 'text') => (oid === 20 ? BigInt : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser },
    });
    await dest.connect();
    const file = writeFile(
      join(dir, 'edge.yaml'),
      `name: edge_from_${engine}
${source.yaml}destination:
  type: postgres
  url: \${OUTFLOW_TEST_PG_URL}
  table: ${table}
primary_key: id
mode: upsert
state:
  dir: ${join(dir, 'state')}
`,
    );
    const r = await runPipeline(loadPipeline(file));
    expect(r.error).toBeUndefined();
    expect(r.counts).toMatchObject({ read: 2, inserted: 2 });
  });

  afterAll(async () => {
    await dest?.query(`DROP TABLE IF EXISTS ${table}`);
    await dest?.end();
    await source?.close();
  });

  it('creates faithful column types (never everything as text)', async () => {
    const { rows } = await dest.query<{ name: string; type: string }>(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
        WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [table],
    );
    const created = Object.fromEntries(rows.map((r) => [r.name, r.type]));
    expect(created.id).toBe('bigint');
    for (const [name, e] of expected) expect(`${name} ${created[name]}`).toBe(`${name} ${e.pgType}`);
    for (const [name, type] of Object.entries(source.types ?? {})) expect(`${name} ${created[name]}`).toBe(`${name} ${type}`);
  });

  it('row 1 arrives value-equal, compared as typed values in Postgres', async () => {
    const checks = expected.map(([name, e], i) => `(${name} IS NOT DISTINCT FROM $${i + 1}::${e.pgType}) AS ${name}`);
    const { rows } = await dest.query(`SELECT ${checks.join(', ')} FROM ${table} WHERE id = 1`, expected.map(([, e]) => e.value));
    expect(rows).toHaveLength(1);
    const unequal = Object.entries(rows[0]).filter(([, same]) => same !== true);
    if (unequal.length) {
      const actual = (await dest.query(`SELECT ${unequal.map(([n]) => `${n}::text`).join(', ')} FROM ${table} WHERE id = 1`)).rows[0];
      expect(actual).toEqual(Object.fromEntries(unequal.map(([n]) => [n, EXPECTED[n].value])));
    }
    expect(unequal).toEqual([]);
  });

  it('row 1 reads back as the same JS values', async () => {
    const { rows } = await dest.query(`SELECT * FROM ${table} WHERE id = 1`);
    const row = rows[0];
    expect(row.id).toBe(1n);
    expect(row.big_max).toBe(9223372036854775807n);
    expect(row.big_min).toBe(-9223372036854775808n);
    expect(row.big_null).toBeNull();
    expect(row.txt).toBe(TEXT);
    expect(row.empty).toBe('');
    expect(row.txt_null).toBeNull();
    expect(row.j).toEqual(JSON.parse(JSON_TEXT));
    expect(Buffer.compare(row.b, BYTES)).toBe(0);
    expect(row.u).toBe(UUID);
    expect(row.flag).toBe(true);
    expect(row.f).toBe(3.141592653589793);
    expect((row.tstz as Date).toISOString()).toBe('2024-03-10T09:59:59.999Z');
    if (!source.skip?.includes('texts')) expect(row.texts).toEqual(TEXTS);
    if (engine === 'postgres') expect(row.j_plain).toEqual(JSON.parse(JSON_TEXT));
  });

  it('row 2 arrives NULL in every column (arrays: [] from BigQuery, which has no NULL arrays)', async () => {
    const names = expected.map(([n]) => n);
    const { rows } = await dest.query(`SELECT ${names.map((n) => `${n} IS NULL AS ${n}`).join(', ')} FROM ${table} WHERE id = 2`);
    const bigqueryArrays = engine === 'bigquery' ? ['ints', 'texts'] : [];
    expect(rows[0]).toEqual(Object.fromEntries(names.map((n) => [n, !bigqueryArrays.includes(n)])));
    if (engine === 'bigquery') {
      expect((await dest.query(`SELECT cardinality(ints) AS a, cardinality(texts) AS b FROM ${table} WHERE id = 2`)).rows).toEqual([{ a: 0, b: 0 }]);
    }
  });
});

describe('multi-dimensional Postgres arrays through the workspace', () => {
  // Postgres array types carry no dimension count, so integer[] may hold {{1,2},{3,4}} while
  // the model declares one dimension. Before the fix a 2-D bytea[] arrived flattened.
  it.each([
    ['ai', 'integer[]', `'{{1,2},{3,NULL}}'`],
    ['aby', 'bytea[]', `'{{"\\\\x01"},{"\\\\x02"}}'`],
    ['at', 'text[]', `'{{a,b},{c,d}}'`],
  ])('refuses a 2-D value in %s (%s) naming the column, and writes nothing', async (column, type, literal) => {
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    const schema = uniqueName('outflow_src');
    const table = uniqueName('md_array');
    const dir = tempDir();
    try {
      await admin.query(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".m (id int PRIMARY KEY, ${column} ${type})`);
      await admin.query(`INSERT INTO "${schema}".m VALUES (1, ${literal})`);
      const file = writeFile(
        join(dir, 'md.yaml'),
        `name: md_${column}\nsource:\n  type: postgres\n  url: \${OUTFLOW_TEST_PG_URL}\nmodel:\n  table: ${schema}.m\ndestination:\n  type: postgres\n  url: \${OUTFLOW_TEST_PG_URL}\n  table: ${table}\nprimary_key: id\nstate:\n  dir: ${join(dir, 'state')}\n`,
      );
      const r = await runPipeline(loadPipeline(file));
      expect(r.status).toBe('failed');
      expect(r.error).toContain(`column "${column}"`);
      expect(r.error).toContain('multi-dimensional array');
      expect((await admin.query(`SELECT count(*)::int AS n FROM ${table}`)).rows).toEqual([{ n: 0 }]);
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE; DROP TABLE IF EXISTS ${table}`);
      await admin.end();
    }
  });
});
