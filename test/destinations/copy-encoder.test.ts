import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import pg from 'pg';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { COPY_TEXT } from '../../src/destinations/postgres/postgres-destination.js';
import { connectServer, type PgSession } from '../../src/destinations/postgres/pg-session.js';
import { tableRowStream } from '../../src/diff/delta-row-stream.js';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import type { LogicalType } from '../../src/types/logical-type.js';
import { PG_URL, duckdbExec, tempDir, uniqueName, writeFile } from '../support/databases.js';

/**
 * The COPY encoder (DuckDB SQL rendering COPY text lines, streamed to Postgres) against
 * real Postgres COPY: every value goes through the streamed path into a typed column and
 * is compared, value by value, with what Postgres itself makes of the expected input
 * text (`$1::type`), so the assertion does not depend on outflow's own rendering.
 */
interface Case {
  /** DuckDB expression for the model value. */
  duck: string;
  /** What Postgres should hold, as Postgres input text; null for NULL. */
  want: string | null;
}
interface TypeGroup {
  name: string;
  duckType: string;
  pgType: string;
  logical: LogicalType;
  cases: Case[];
}

const t = (kind: string) => ({ kind }) as LogicalType;

const GROUPS: TypeGroup[] = [
  {
    name: 'text escapes',
    duckType: 'VARCHAR',
    pgType: 'text',
    logical: t('text'),
    cases: [
      { duck: `'back\\slash'`, want: 'back\\slash' },
      { duck: `'two\\\\slashes at end\\'`, want: 'two\\\\slashes at end\\' },
      { duck: `'tab' || chr(9) || 'here'`, want: 'tab\there' },
      { duck: `'new' || chr(10) || 'line'`, want: 'new\nline' },
      { duck: `'carriage' || chr(13) || chr(10) || 'return'`, want: 'carriage\r\nreturn' },
      { duck: `'all' || chr(9) || chr(10) || chr(13) || '\\'`, want: 'all\t\n\r\\' },
      { duck: `'"double" and ''single'' quotes, commas'`, want: `"double" and 'single' quotes, commas` },
      { duck: `''`, want: '' },
      { duck: `NULL`, want: null },
      { duck: `'\\N'`, want: '\\N' },
      { duck: `'NULL'`, want: 'NULL' },
      { duck: `'\\.'`, want: '\\.' },
      { duck: `'Ünïcödé 日本語 🎉👩‍👩‍👧'`, want: 'Ünïcödé 日本語 🎉👩‍👩‍👧' },
      { duck: `'\\x41 not a hex escape'`, want: '\\x41 not a hex escape' },
      { duck: `chr(1) || chr(2) || chr(31) || chr(127)`, want: '\u0001\u0002\u001f\u007f' },
      { duck: `' leading and trailing '`, want: ' leading and trailing ' },
    ],
  },
  {
    name: 'decimals',
    duckType: 'DECIMAL(38,10)',
    pgType: 'numeric(38,10)',
    logical: { kind: 'decimal', precision: 38, scale: 10 },
    cases: [
      { duck: `'1234567890123456789012345678.0123456789'`, want: '1234567890123456789012345678.0123456789' },
      { duck: `'-0.0000000001'`, want: '-0.0000000001' },
      { duck: `'0'`, want: '0' },
      { duck: `'0.1'`, want: '0.1' },
      { duck: `NULL`, want: null },
    ],
  },
  {
    name: 'big integers',
    duckType: 'BIGINT',
    pgType: 'bigint',
    logical: t('int64'),
    cases: [
      { duck: `9007199254740993`, want: '9007199254740993' },
      { duck: `-9007199254740993`, want: '-9007199254740993' },
      { duck: `9223372036854775807`, want: '9223372036854775807' },
      { duck: `-9223372036854775808`, want: '-9223372036854775808' },
      { duck: `0`, want: '0' },
    ],
  },
  {
    name: 'floats',
    duckType: 'DOUBLE',
    pgType: 'double precision',
    logical: t('float64'),
    cases: [
      { duck: `0.1`, want: '0.1' },
      { duck: `1.7976931348623157e308`, want: '1.7976931348623157e308' },
      { duck: `5e-324`, want: '5e-324' },
      { duck: `'inf'`, want: 'Infinity' },
      { duck: `'-inf'`, want: '-Infinity' },
      { duck: `'nan'`, want: 'NaN' },
    ],
  },
  {
    name: 'timestamps with time zone',
    duckType: 'TIMESTAMPTZ',
    pgType: 'timestamptz',
    logical: t('timestamptz'),
    cases: [
      { duck: `'2024-02-29 23:59:59.999999+00'`, want: '2024-02-29 23:59:59.999999+00' },
      { duck: `'2024-01-01 00:00:00.000001+05:30'`, want: '2023-12-31 18:30:00.000001+00' },
      { duck: `'1969-12-31 23:59:59.5+00'`, want: '1969-12-31 23:59:59.5+00' },
      { duck: `'0001-01-01 00:00:00+00'`, want: '0001-01-01 00:00:00+00' },
      { duck: `CAST('0001-01-01 10:00:00.123456+00' AS TIMESTAMPTZ) - INTERVAL 44 YEAR`, want: '0044-01-01 10:00:00.123456+00 BC' },
      { duck: `'9999-12-31 23:59:59.999999+00'`, want: '9999-12-31 23:59:59.999999+00' },
      { duck: `'infinity'`, want: 'infinity' },
      { duck: `'-infinity'`, want: '-infinity' },
    ],
  },
  {
    name: 'timestamps and dates',
    duckType: 'TIMESTAMP',
    pgType: 'timestamp',
    logical: t('timestamp'),
    cases: [
      { duck: `'2024-01-01 00:00:00.000001'`, want: '2024-01-01 00:00:00.000001' },
      { duck: `CAST('0001-03-15 12:00:00' AS TIMESTAMP) - INTERVAL 44 YEAR`, want: '0044-03-15 12:00:00 BC' },
    ],
  },
  {
    name: 'dates',
    duckType: 'DATE',
    pgType: 'date',
    logical: t('date'),
    cases: [
      { duck: `'2024-02-29'`, want: '2024-02-29' },
      { duck: `'0044-03-15 (BC)'`, want: '0044-03-15 BC' },
    ],
  },
  {
    name: 'booleans',
    duckType: 'BOOLEAN',
    pgType: 'boolean',
    logical: t('bool'),
    cases: [
      { duck: `true`, want: 'true' },
      { duck: `false`, want: 'false' },
      { duck: `NULL`, want: null },
    ],
  },
  {
    name: 'bytea',
    duckType: 'BLOB',
    pgType: 'bytea',
    logical: t('bytes'),
    cases: [
      { duck: `'\\x00\\xFF\\x5C\\x0A\\x09'::BLOB`, want: '\\x00ff5c0a09' },
      { duck: `''::BLOB`, want: '\\x' },
      { duck: `'plain'::BLOB`, want: '\\x706c61696e' },
    ],
  },
  {
    name: 'json',
    duckType: 'JSON',
    pgType: 'jsonb',
    logical: t('json'),
    cases: [
      { duck: `'{"a": "tab\\there \\\\ back", "b": [1, 2.5, null], "c": "🎉"}'`, want: '{"a": "tab\\there \\\\ back", "b": [1, 2.5, null], "c": "🎉"}' },
      { duck: `'"line\\nbreak"'`, want: '"line\\nbreak"' },
      { duck: `'[]'`, want: '[]' },
    ],
  },
  {
    name: 'text arrays',
    duckType: 'VARCHAR[]',
    pgType: 'text[]',
    logical: { kind: 'array', element: t('text') },
    cases: [
      { duck: `['a', 'b"c', 'd\\e', NULL, '', 'x,y', '{braces}', 'tab' || chr(9), 'NULL']`, want: '{a,"b\\"c","d\\\\e",NULL,"","x,y","{braces}","tab\t","NULL"}' },
      { duck: `[]::VARCHAR[]`, want: '{}' },
    ],
  },
  {
    name: 'nested arrays',
    duckType: 'BIGINT[][]',
    pgType: 'bigint[]',
    logical: { kind: 'array', element: { kind: 'array', element: t('int64') } },
    cases: [
      { duck: `[[1, 9007199254740993], [NULL, -3]]`, want: '{{1,9007199254740993},{NULL,-3}}' },
    ],
  },
];

describe('COPY text encoder, round-tripped through Postgres COPY', () => {
  let duck: DuckDBInstance;
  let c: DuckDBConnection;
  let session: PgSession;
  let admin: pg.Client;
  const tables: string[] = [];

  beforeAll(async () => {
    duck = await DuckDBInstance.create(':memory:');
    c = await duck.connect();
    await c.run(`SET TimeZone = 'UTC'`); // as the workspace does
    session = await connectServer({ type: 'postgres', url: PG_URL, table: 'unused', create_table: true });
    admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
  });
  afterAll(async () => {
    for (const table of tables) await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.end();
    await session.close();
    c.closeSync();
    duck.closeSync();
  });

  // The FIFO path (DuckDB's CSV writer, QUOTE '') and the client fallback must write the same bytes.
  describe.each([
    ['through a FIFO', '0'],
    ['through the DuckDB client', '1'],
  ])('%s', (_label, noFifo) => {
    it.each(GROUPS.map((g) => [g.name, g] as const))('%s arrive exactly', async (_name, g) => {
      const previous = process.env.OUTFLOW_NO_FIFO;
      process.env.OUTFLOW_NO_FIFO = noFifo;
      try {
        const duckTable = `enc_${g.name.replace(/\W/g, '_')}`;
        const values = g.cases.map((k, i) => `(${i + 1}, CAST(${k.duck} AS ${g.duckType}))`).join(', ');
        await c.run(`CREATE OR REPLACE TABLE ${duckTable} AS SELECT * FROM (VALUES ${values}) v(id, v)`);
        const pgTable = uniqueName('copy_enc');
        tables.push(pgTable);
        await admin.query(`CREATE TABLE ${pgTable} (id int PRIMARY KEY, v ${g.pgType})`);
        const columns = [
          { name: 'id', type: t('int32'), nullable: false },
          { name: 'v', type: g.logical, nullable: true },
        ];
        const rows = tableRowStream(c, duckTable, g.cases.length, columns, COPY_TEXT);
        let sent = 0;
        await session.copyFrom(
          `COPY ${pgTable} (id, v) FROM STDIN`,
          (async function* () {
            for await (const chunk of rows.all(false)) {
              sent += chunk.rows;
              yield chunk.bytes;
            }
          })(),
        );
        expect(sent).toBe(g.cases.length);
        const got = await admin.query<{ id: number; got: string | null; same: boolean }>(
          `SELECT id, v::text AS got, v IS NOT DISTINCT FROM (w.want)::${g.pgType} AS same
             FROM ${pgTable} JOIN unnest($1::text[]) WITH ORDINALITY AS w(want, n) ON w.n = id ORDER BY id`,
          [g.cases.map((k) => k.want)],
        );
        expect(got.rows.length).toBe(g.cases.length);
        for (const r of got.rows) {
          const want = g.cases[r.id - 1].want;
          expect({ case: g.cases[r.id - 1].duck, same: r.same, got: r.got }).toEqual({ case: g.cases[r.id - 1].duck, same: true, got: r.got });
          if (want === null) expect(r.got).toBeNull();
        }
      } finally {
        if (previous === undefined) delete process.env.OUTFLOW_NO_FIFO;
        else process.env.OUTFLOW_NO_FIFO = previous;
      }
    });
  });

  it('released FIFO buffers are refilled only after Postgres took them: 12 MiB of rows arrive exactly through 4 reused buffers', async () => {
    await c.run(`CREATE OR REPLACE TABLE enc_reuse AS SELECT i AS id, repeat(chr(97 + (i % 26)::INT), 50) || i AS v FROM range(1, 200001) t(i)`);
    const pgTable = uniqueName('copy_enc_reuse');
    tables.push(pgTable);
    await admin.query(`CREATE TABLE ${pgTable} (id bigint, v text)`);
    const columns = [
      { name: 'id', type: t('int64'), nullable: false },
      { name: 'v', type: t('text'), nullable: true },
    ];
    const rows = tableRowStream(c, 'enc_reuse', 200_000, columns, COPY_TEXT);
    const buffers = new Set<ArrayBufferLike>();
    let chunks = 0;
    let released = 0;
    await session.copyFrom(
      `COPY ${pgTable} (id, v) FROM STDIN`,
      (async function* () {
        for await (const chunk of rows.all(false)) {
          chunks++;
          buffers.add(chunk.bytes.buffer);
          yield { bytes: chunk.bytes, release: () => (released++, chunk.release?.()) };
        }
      })(),
    );
    expect(chunks).toBeGreaterThan(10);
    expect(released).toBe(chunks);
    expect(buffers.size).toBeLessThanOrEqual(4);
    const diff = await admin.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${pgTable} WHERE v <> repeat(chr(97 + (id % 26)::int), 50) || id`,
    );
    expect(diff.rows[0].n).toBe('0');
    expect((await admin.query<{ n: string }>(`SELECT count(DISTINCT id)::text AS n FROM ${pgTable}`)).rows[0].n).toBe('200000');
  });

  it('a line stopped early (Postgres refuses a value) ends the FIFO writer without hanging', async () => {
    await c.run(`CREATE OR REPLACE TABLE enc_bad AS SELECT i AS id, CASE WHEN i = 50000 THEN 'not a number' ELSE CAST(i AS VARCHAR) END AS v FROM range(1, 200001) t(i)`);
    const pgTable = uniqueName('copy_enc_bad');
    tables.push(pgTable);
    await admin.query(`CREATE TABLE ${pgTable} (id int, v int)`);
    const columns = [
      { name: 'id', type: t('int64'), nullable: false },
      { name: 'v', type: t('text'), nullable: true },
    ];
    const rows = tableRowStream(c, 'enc_bad', 200_000, columns, COPY_TEXT);
    await expect(session.copyFrom(`COPY ${pgTable} (id, v) FROM STDIN`, (async function* () {
      for await (const chunk of rows.all(false)) yield chunk.bytes;
    })())).rejects.toThrow(/invalid input syntax for type integer/);
    // The DuckDB connection is usable again: the COPY into the pipe was ended.
    expect(Number((await c.runAndReadAll('SELECT count(*) FROM enc_bad')).getRows()[0][0])).toBe(200_000);
  });
});

describe('NUL bytes', () => {
  it('a row with a NUL byte in text becomes a rejected row with the reason; the others arrive', async () => {
    const dir = tempDir();
    const table = uniqueName('copy_enc_nul');
    const warehouse = join(dir, 'w.duckdb');
    await duckdbExec(warehouse, `CREATE TABLE m AS SELECT * FROM (VALUES (1, 'fine'), (2, 'nul' || chr(0) || 'inside'), (3, 'also fine')) v(id, note)`);
    const file = writeFile(
      join(dir, 'nul.yaml'),
      `name: nul_${process.pid}
source:
  type: duckdb
  path: ${warehouse}
model:
  table: m
destination:
  type: postgres
  url: \${OUTFLOW_TEST_PG_URL}
  table: ${table}
primary_key: id
state:
  dir: ${join(dir, 'state')}
`,
    );
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      const r = await runPipeline(loadPipeline(file));
      expect(r.status).toBe('partial');
      expect(r.counts.rejected).toBe(1);
      expect(r.rejected[0]).toMatchObject({ key: { id: 2 }, column: 'note' });
      expect(r.rejected[0].reason).toMatch(/NUL byte/);
      const rows = await admin.query(`SELECT id, note FROM ${table} ORDER BY id`);
      expect(rows.rows).toEqual([
        { id: 1, note: 'fine' },
        { id: 3, note: 'also fine' },
      ]);
    } finally {
      await admin.query(`DROP TABLE IF EXISTS ${table}`);
      await admin.end();
    }
  });
});
