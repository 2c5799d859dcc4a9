import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesSource } from '../../src/sources/files/files-source.js';
import { filesSourceConfig } from '../../src/sources/files/files-config.js';
import { sourceConfig } from '../../src/sources/source-configs.js';
import { formatType, type Batch, type Value } from '../../src/types/logical-type.js';
import { ConfigError, ModelError, SchemaMismatchError } from '../../src/errors.js';
import type { Model } from '../../src/sources/source.js';

let dir: string;
let writer: { instance: DuckDBInstance; connection: DuckDBConnection };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outflow-files-'));
  const instance = await DuckDBInstance.create(':memory:');
  writer = { instance, connection: await instance.connect() };
});

afterAll(() => {
  writer.connection.closeSync();
  writer.instance.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

/** Files are written by DuckDB itself, in the folder the pipeline would live in. */
async function write(sql: string): Promise<void> {
  await writer.connection.run(sql.replaceAll('$DIR', dir));
}

async function open(config: Record<string, unknown>): Promise<FilesSource> {
  return FilesSource.open(filesSourceConfig.parse({ type: 'files', ...config }), dir);
}

async function readAll(source: FilesSource, model: Model, batchSize = 1000): Promise<Value[][][]> {
  const out: Value[][][] = [];
  const batches: AsyncIterable<Batch> = source.read(model, await source.describe(model), { batchSize });
  for await (const b of batches) out.push(b.rows);
  return out;
}

const EDGE_SELECT = `
  SELECT 1 AS id, (-9223372036854775808)::BIGINT AS i8min, 9223372036854775807::BIGINT AS i8max,
         -12345678901234567890123456789.123456789::DECIMAL(38,9) AS d, 1.5::DOUBLE AS f8,
         'héllo 😀' AS t, '' AS t_empty, NULL::VARCHAR AS t_null, true AS b, DATE '1969-07-20' AS dt,
         TIME '23:59:59.999999' AS tm, TIMESTAMP '1960-02-29 12:34:56.123456' AS ts,
         TIMESTAMPTZ '2024-03-10 09:30:00.000001+00' AS tstz, '\\x00\\xFF'::BLOB AS bytes,
         [1, NULL, 3]::BIGINT[] AS arr, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID AS u
  UNION ALL
  SELECT 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL`;

describe('files source', () => {
  it('reads a parquet file of edge values exactly', async () => {
    await write(`COPY (${EDGE_SELECT}) TO '$DIR/edge.parquet' (FORMAT parquet)`);
    const source = await open({ path: 'edge.parquet' });
    try {
      const model = { table: 'files' };
      const schema = await source.describe(model);
      expect(schema.columns.map((c) => `${c.name}:${formatType(c.type)}`)).toEqual([
        'id:int32', 'i8min:int64', 'i8max:int64', 'd:decimal(38,9)', 'f8:float64', 't:text', 't_empty:text', 't_null:text',
        'b:bool', 'dt:date', 'tm:time', 'ts:timestamp', 'tstz:timestamptz', 'bytes:bytes', 'arr:int64[]', 'u:uuid',
      ]);
      const rows = (await readAll(source, model)).flat().sort((a, b) => Number(a[0]) - Number(b[0]));
      // DuckDB hands blobs over as Buffer, a Uint8Array subclass: compare the bytes.
      const bytes = rows[0][13];
      expect(bytes).toBeInstanceOf(Uint8Array);
      rows[0][13] = new Uint8Array(bytes as Uint8Array);
      expect(rows[0]).toEqual([
        1, -9223372036854775808n, 9223372036854775807n, '-12345678901234567890123456789.123456789', 1.5,
        'héllo 😀', '', null, true, '1969-07-20', '23:59:59.999999', '1960-02-29 12:34:56.123456',
        '2024-03-10 09:30:00.000001+00', new Uint8Array([0, 255]), [1n, null, 3n],
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      ]);
      expect(rows[1]).toEqual([2, ...new Array(15).fill(null)]);
    } finally {
      await source.close();
    }
  });

  it('reads CSV with header and delimiter options, and JSON lines', async () => {
    writeFileSync(join(dir, 'people.csv'), 'id;name;born\n1;Ada;1815-12-10\n2;"Grace; H.";1906-12-09\n3;;\n');
    const csv = await open({ path: 'people.csv', header: true, delimiter: ';' });
    try {
      const schema = await csv.describe({ table: 'files' });
      expect(schema.columns.map((c) => `${c.name}:${formatType(c.type)}`)).toEqual(['id:int64', 'name:text', 'born:date']);
      expect((await readAll(csv, { table: 'files' })).flat()).toEqual([
        [1n, 'Ada', '1815-12-10'],
        [2n, 'Grace; H.', '1906-12-09'],
        [3n, null, null],
      ]);
    } finally {
      await csv.close();
    }

    await write(`COPY (SELECT range AS id, 'n' || range AS name, [range, NULL] AS list FROM range(3)) TO '$DIR/rows.jsonl' (FORMAT json)`);
    const json = await open({ path: ['rows.jsonl'] });
    try {
      expect((await readAll(json, { query: 'SELECT id, name, list FROM files ORDER BY id' })).flat()).toEqual([
        [0n, 'n0', [0n, null]],
        [1n, 'n1', [1n, null]],
        [2n, 'n2', [2n, null]],
      ]);
    } finally {
      await json.close();
    }
  });

  it('reads a hive-partitioned folder, with partition columns unless turned off', async () => {
    await write(`COPY (SELECT range AS id, CASE WHEN range % 2 = 0 THEN 'eu' ELSE 'us' END AS region FROM range(10))
                 TO '$DIR/events' (FORMAT parquet, PARTITION_BY (region))`);
    const byFolder = await open({ path: 'events', format: 'parquet' });
    try {
      const rows = (await readAll(byFolder, { query: 'SELECT id, region FROM files ORDER BY id' })).flat();
      expect(rows).toHaveLength(10);
      expect(rows[0]).toEqual([0n, 'eu']);
      expect(rows[1]).toEqual([1n, 'us']);
    } finally {
      await byFolder.close();
    }
    const plain = await open({ path: 'events/**/*.parquet', hive_partitioning: false });
    try {
      expect((await plain.describe({ table: 'files' })).columns.map((c) => c.name)).toEqual(['id']);
    } finally {
      await plain.close();
    }
  });

  it('streams in bounded batches and lets the diff run on the files directly', async () => {
    await write(`COPY (SELECT range AS id FROM range(25000)) TO '$DIR/big.parquet' (FORMAT parquet)`);
    const source = await open({ path: 'big.parquet' });
    try {
      const batches = await readAll(source, { table: 'files' }, 10_000);
      expect(batches.length).toBeGreaterThanOrEqual(3);
      expect(batches.every((b) => b.length <= 10_000 + 2048)).toBe(true);
      expect(batches.flat()).toHaveLength(25_000);
      const after = source.read({ table: 'files' }, await source.describe({ table: 'files' }), {
        batchSize: 10_000,
        cursor: { column: 'id', after: '24990' },
      });
      const tail: Value[][] = [];
      for await (const b of after) tail.push(...b.rows);
      expect(tail).toHaveLength(9);

      const { connection, sql } = await source.duckdbRelation({ query: 'SELECT id FROM files WHERE id < 100' });
      const count = await connection.runAndReadAll(`SELECT count(*) AS n FROM ${sql}`);
      expect(count.getRows()).toEqual([[100n]]);
    } finally {
      await source.close();
    }
  });

  // Fails until duckdb/duckdb-relation.ts turns json columns into text with
  // CAST(to_json(x) AS VARCHAR): a plain VARCHAR cast prints STRUCT/MAP values in DuckDB's
  // own literal syntax ({'k': 0}), which is not JSON. Drop `.fails` once that lands.
  it('delivers nested objects (STRUCT) as JSON text', async () => {
    await write(`COPY (SELECT 1 AS id, {'k': 0, 'b': [true]} AS obj) TO '$DIR/nested.jsonl' (FORMAT json)`);
    const source = await open({ path: 'nested.jsonl' });
    try {
      expect((await readAll(source, { table: 'files' })).flat()).toEqual([[1n, '{"k":0,"b":[true]}']]);
    } finally {
      await source.close();
    }
  });

  it('refuses models other than the files view, unknown formats and missing files', async () => {
    await write(`COPY (SELECT 1 AS id) TO '$DIR/one.parquet' (FORMAT parquet)`);
    const source = await open({ path: 'one.parquet' });
    try {
      const err = await source.describe({ table: 'edge' }).catch((e) => e);
      expect(err).toBeInstanceOf(ModelError);
      expect(err.message).toMatch(/view "files"/);
    } finally {
      await source.close();
    }
    await expect(open({ path: 'data.xlsx' })).rejects.toThrow(ConfigError);
    await expect(open({ path: 'data.xlsx' })).rejects.toThrow(/set format/);
    await expect(open({ path: 'missing/*.parquet' })).rejects.toThrow(ConfigError);
    await expect(open({ path: 'one.parquet', delimiter: ';' })).rejects.toThrow(/only apply to csv/);
  });

  it('refuses nanosecond timestamps rather than truncating them', async () => {
    await write(`COPY (SELECT TIMESTAMP_NS '2024-01-01 00:00:00.123456789' AS ts) TO '$DIR/ns.parquet' (FORMAT parquet)`);
    const source = await open({ path: 'ns.parquet' });
    try {
      const err = await source.describe({ table: 'files' }).catch((e) => e);
      expect(err).toBeInstanceOf(SchemaMismatchError);
      expect(err.message).toMatch(/TIMESTAMP_NS/);
    } finally {
      await source.close();
    }
  });

  it('is a source type in pipeline configs', () => {
    const parsed = sourceConfig.parse({ type: 'files', path: ['a/*.csv', 'b/*.csv'], header: false });
    expect(parsed).toMatchObject({ type: 'files', path: ['a/*.csv', 'b/*.csv'], header: false });
    expect(sourceConfig.parse({ type: 'postgres', url: 'postgres://x@h/db', ssl: { mode: 'require' } })).toMatchObject({ ssl: { mode: 'require' } });
    expect(sourceConfig.parse({ type: 'mysql', url: 'mysql://root@h:3306/db' })).toMatchObject({ type: 'mysql' });
  });
});
