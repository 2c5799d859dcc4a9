import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import fc from 'fast-check';
import pg from 'pg';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { PG_URL, tempDir, uniqueName, writeFile } from '../support/databases.js';

/**
 * Random values of each logical type go DuckDB model → outflow run → Postgres, and are
 * compared in Postgres with the same values built there independently (from the same
 * source text, through the pg driver's parameters and Postgres' own parsing). A value
 * either arrives equal or is a rejected row with a reason; none may change in transit.
 *
 * Each case gives: a generator of source texts, the DuckDB expression that turns the text
 * column `t` into the model value, and the Postgres expression that turns `t` into the
 * value expected in the target (whose type outflow chose when creating the table).
 */
interface Case {
  name: string;
  gen: fc.Arbitrary<string>;
  duck: string;
  pg: string;
  /** Source texts that must be rejected (with this reason) rather than delivered. */
  rejects?: { when: (t: string) => boolean; reason: RegExp };
}

const MIN_US = -150_000_000_000_000_000n; // ≈ 2784 BC
const MAX_US = 250_000_000_000_000_000n; // ≈ 9892 AD
const DAY_US = 86_400_000_000n;
const fmtFloat = (x: number) => (Number.isNaN(x) ? 'NaN' : x === Infinity ? 'Infinity' : x === -Infinity ? '-Infinity' : Object.is(x, -0) ? '-0' : String(x));
const decimalText = (scale: number) => (n: bigint) => {
  const neg = n < 0n;
  const digits = (neg ? -n : n).toString().padStart(scale + 1, '0');
  return `${neg ? '-' : ''}${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
};
/**
 * t microseconds as an interval, exactly: interval × number goes through a double, so whole
 * days and the remainder (< 2^53) are multiplied separately.
 */
const SPLIT_US = `(t::bigint / 86400000000) * interval '1 day' + (t::bigint % 86400000000) * interval '1 microsecond'`;
const textWithNul = (t: string) => t.includes('\0');

const CASES: Case[] = [
  { name: 'int16', gen: fc.integer({ min: -32768, max: 32767 }).map(String), duck: 'CAST(t AS SMALLINT)', pg: 't::smallint' },
  { name: 'int32', gen: fc.integer().map(String), duck: 'CAST(t AS INTEGER)', pg: 't::integer' },
  { name: 'int64', gen: fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n).map(String), duck: 'CAST(t AS BIGINT)', pg: 't::bigint' },
  { name: 'float32', gen: fc.float().map(fmtFloat), duck: 'CAST(t AS FLOAT)', pg: 't::real' },
  { name: 'float64', gen: fc.double().map(fmtFloat), duck: 'CAST(t AS DOUBLE)', pg: 't::double precision' },
  { name: 'decimal(18,4)', gen: fc.bigInt(-(10n ** 18n) + 1n, 10n ** 18n - 1n).map(decimalText(4)), duck: 'CAST(t AS DECIMAL(18,4))', pg: 't::numeric(18,4)' },
  { name: 'decimal(38,10)', gen: fc.bigInt(-(10n ** 38n) + 1n, 10n ** 38n - 1n).map(decimalText(10)), duck: 'CAST(t AS DECIMAL(38,10))', pg: 't::numeric(38,10)' },
  {
    name: 'text',
    gen: fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.constantFrom('\\', '\\N', '\t\n\r', '"quoted"', "it's", '\0', 'a\0b', 'NULL', '')),
    duck: 't',
    pg: 't',
    rejects: { when: textWithNul, reason: /NUL byte/ },
  },
  { name: 'bool', gen: fc.boolean().map(String), duck: 'CAST(t AS BOOLEAN)', pg: 't::boolean' },
  { name: 'date', gen: fc.integer({ min: -1_700_000, max: 2_900_000 }).map(String), duck: `DATE '1970-01-01' + CAST(t AS INTEGER)`, pg: `'1970-01-01'::date + t::integer` },
  { name: 'time', gen: fc.bigInt(0n, DAY_US - 1n).map(String), duck: 'CAST(make_timestamp(CAST(t AS BIGINT)) AS TIME)', pg: `'00:00'::time + t::bigint * interval '1 microsecond'` },
  { name: 'timestamp', gen: fc.bigInt(MIN_US, MAX_US).map(String), duck: 'make_timestamp(CAST(t AS BIGINT))', pg: `'1970-01-01'::timestamp + ${SPLIT_US}` },
  {
    name: 'timestamptz',
    gen: fc.bigInt(MIN_US, MAX_US).map(String),
    duck: 'CAST(make_timestamp(CAST(t AS BIGINT)) AS TIMESTAMPTZ)',
    pg: `'1970-01-01 00:00:00+00'::timestamptz + ${SPLIT_US}`,
  },
  { name: 'uuid', gen: fc.uuid(), duck: 'CAST(t AS UUID)', pg: 't::uuid' },
  { name: 'bytes', gen: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('hex')), duck: 'from_hex(t)', pg: `decode(t, 'hex')` },
  {
    name: 'json',
    gen: fc.jsonValue({ maxDepth: 3, noUnicodeString: false }).map((v) => JSON.stringify(v)),
    duck: 'CAST(t AS JSON)',
    pg: 't::jsonb',
    rejects: { when: (t) => t.includes('\\u0000'), reason: /NUL|\\u0000|unsupported Unicode/ },
  },
  {
    name: 'int32[]',
    gen: fc.array(fc.option(fc.integer(), { nil: null }), { maxLength: 6 }).map((a) => JSON.stringify(a)),
    duck: 'CAST(CAST(t AS JSON) AS INTEGER[])',
    pg: `ARRAY(SELECT x::integer FROM jsonb_array_elements_text(t::jsonb) WITH ORDINALITY AS e(x, i) ORDER BY i)`,
  },
  {
    name: 'text[]',
    gen: fc.array(fc.option(fc.string({ maxLength: 12 }), { nil: null }), { maxLength: 5 }).map((a) => JSON.stringify(a)),
    duck: 'CAST(CAST(t AS JSON) AS VARCHAR[])',
    pg: `ARRAY(SELECT x FROM jsonb_array_elements_text(t::jsonb) WITH ORDINALITY AS e(x, i) ORDER BY i)`,
    rejects: { when: (t) => t.includes('\\u0000'), reason: /NUL byte/ },
  },
];

const PER_TYPE = 300;
const figures = { types: 0, values: 0, delivered: 0, rejected: 0, changed: 0, crashes: 0 };

describe('value fuzz: random values round-trip exactly through Postgres or are rejected with a reason', () => {
  let dir: string;
  let client: pg.Client;
  const tables: string[] = [];

  beforeAll(async () => {
    dir = tempDir('outflow-value-fuzz-');
    client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`SET TimeZone = 'UTC'`);
  });
  afterAll(async () => {
    for (const t of tables) await client.query(`DROP TABLE IF EXISTS ${t}`);
    await client.end();
    console.log(
      `[fuzz] ${figures.values} values tried over ${figures.types} logical types: ${figures.delivered} delivered equal, ${figures.rejected} rejected with a reason, ${figures.changed} changed in transit, ${figures.crashes} crashes`,
    );
  });

  it.each(CASES)('$name', async (c) => {
    const texts = fc.sample(c.gen, { numRuns: PER_TYPE, seed: 20240601 + c.name.length });
    const table = uniqueName(`fuzz_${c.name.replace(/\W/g, '_')}`);
    tables.push(table);
    const warehouse = join(dir, `${table}.duckdb`);
    // The model: row 0 is NULL, rows 1..n the random values.
    const instance = await DuckDBInstance.create(warehouse);
    const duck = await instance.connect();
    try {
      await duck.run(`SET TimeZone = 'UTC'`);
      await duck.run('CREATE TABLE src (id INTEGER, t VARCHAR)');
      const appender = await duck.createAppender('src');
      appender.appendInteger(0);
      appender.appendNull();
      appender.endRow();
      texts.forEach((t, i) => {
        appender.appendInteger(i + 1);
        appender.appendVarchar(t);
        appender.endRow();
      });
      appender.closeSync();
      await duck.run(`CREATE TABLE m AS SELECT id, ${c.duck} AS v FROM src`);
    } finally {
      duck.closeSync();
      instance.closeSync();
    }
    const pipe = loadPipeline(
      writeFile(
        join(dir, `${table}.yaml`),
        `name: ${table}\nsource:\n  type: duckdb\n  path: ${warehouse}\nmodel:\n  table: m\ndestination:\n  type: postgres\n  url: ${PG_URL}\n  table: ${table}\nprimary_key: id\nmode: upsert\nstate:\n  dir: ${join(dir, 'state')}\n`,
      ),
    );
    let r;
    try {
      r = await runPipeline(pipe);
    } catch (e) {
      figures.crashes++;
      throw e;
    }
    expect(r.error).toBeUndefined();
    figures.types++;
    figures.values += texts.length + 1;

    const shouldReject = new Set(texts.flatMap((t, i) => (c.rejects?.when(t) ? [i + 1] : [])));
    const rejected = new Map(r.rejected.map((x) => [Number(x.key.id), x.reason]));
    for (const [id, reason] of rejected) {
      expect(shouldReject.has(id), `row ${id} (${JSON.stringify(texts[id - 1])}) rejected: ${reason}`).toBe(true);
      expect(reason).toMatch(c.rejects!.reason);
    }
    expect([...shouldReject].filter((id) => !rejected.has(id))).toEqual([]);
    expect(r.status).toBe(shouldReject.size ? 'partial' : 'success');

    // The expected values, built by Postgres from the same texts (rejected rows left out).
    const ids = [0, ...texts.map((_, i) => i + 1)].filter((id) => !shouldReject.has(id));
    const srcTexts = ids.map((id) => (id === 0 ? null : texts[id - 1]));
    const exp = `${table}_exp`;
    tables.push(exp);
    await client.query(`CREATE TABLE ${exp} AS SELECT id, CASE WHEN t IS NULL THEN NULL ELSE ${c.pg} END AS v FROM unnest($1::int[], $2::text[]) AS u(id, t)`, [ids, srcTexts]);
    const diff = await client.query<{ id: number; got: string | null; want: string | null }>(
      `SELECT coalesce(e.id, t.id) AS id, t.v::text AS got, e.v::text AS want
         FROM ${exp} e FULL JOIN ${table} t ON t.id = e.id
        WHERE e.id IS NULL OR t.id IS NULL OR ${c.name === 'json' ? 'e.v::jsonb IS DISTINCT FROM t.v::jsonb' : 'e.v IS DISTINCT FROM t.v'}
        LIMIT 5`,
    );
    const changed = diff.rowCount ?? 0;
    figures.changed += changed;
    figures.rejected += rejected.size;
    figures.delivered += ids.length - changed;
    expect(diff.rows.map((d) => ({ ...d, source: d.id ? texts[d.id - 1] : null }))).toEqual([]);
  });
});
