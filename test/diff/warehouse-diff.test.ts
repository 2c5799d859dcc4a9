import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import pg from 'pg';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { PG_URL, tempDir, uniqueName } from '../support/databases.js';
import { createSource } from '../../src/sources/create-source.js';
import type { Source } from '../../src/sources/source.js';
import type { WarehouseDiffSpec } from '../../src/sources/warehouse-diff.js';
import {
  advancePartition,
  advanceRules,
  computeWarehouseDiff,
  finishWarehouseDiff,
  loadPartition,
  openWarehouseState,
  refusedRows,
} from '../../src/diff/warehouse-diff.js';

/**
 * The warehouse-side diff's SQL, run for real: a Postgres database and a DuckDB file
 * hold the model, and the snapshot lives next to it in a schema outflow owns. The test
 * drives the diff as the engine does (diff, partitions into a DuckDB workspace, advance)
 * and looks at the warehouse's own tables.
 */
interface Warehouse {
  name: string;
  source: Source;
  /** Runs SQL in the warehouse as the test (not through outflow). */
  sql(text: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

async function postgresWarehouse(schema: string): Promise<Warehouse> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.query(`SET search_path = ${schema}`);
  const source = await createSource({ type: 'postgres', url: PG_URL }, '.');
  return {
    name: 'postgres',
    source,
    sql: async (text) => (await client.query(text)).rows,
    close: async () => {
      await source.close();
      await client.end();
    },
  };
}

async function duckdbWarehouse(): Promise<Warehouse> {
  const dir = tempDir();
  const path = join(dir, 'warehouse.duckdb');
  // The test and outflow share the file's one instance (DuckDB locks a file per process): the source is opened on it.
  const source = await createSource({ type: 'duckdb', path, read_only: false }, dir);
  const sql = async (text: string) => {
    const r = await (source as unknown as { connection: DuckDBConnection }).connection.runAndReadAll(text);
    return r.getRowObjects() as Record<string, unknown>[];
  };
  return { name: 'duckdb', source, sql, close: () => source.close() };
}

const ENGINES = [
  { name: 'postgres', open: (schema: string) => postgresWarehouse(schema) },
  { name: 'duckdb', open: () => duckdbWarehouse() },
];

describe.each(ENGINES)('warehouse diff on $name', ({ name, open }) => {
  let w: Warehouse;
  let ws: DuckDBConnection;
  let wsInstance: DuckDBInstance;
  const modelSchema = uniqueName('wh_model');
  const stateSchema = uniqueName('wh_state');
  const table = name === 'postgres' ? `${modelSchema}.items` : 'items';

  beforeAll(async () => {
    w = await open(modelSchema);
    wsInstance = await DuckDBInstance.create(':memory:');
    ws = await wsInstance.connect();
    // A composite key (a, b), a renamed column, 1,000 rows.
    const intType = name === 'postgres' ? 'integer' : 'INTEGER';
    await w.sql(`CREATE TABLE ${table} (a ${intType} NOT NULL, b text NOT NULL, v ${intType}, note text)`);
    await w.sql(
      name === 'postgres'
        ? `INSERT INTO ${table} SELECT i / 10, 'k' || (i % 10), i, 'n' || i FROM generate_series(0, 999) i`
        : `INSERT INTO ${table} SELECT i // 10, 'k' || (i % 10), i, 'n' || i FROM range(0, 1000) t(i)`,
    );
  });

  afterAll(async () => {
    ws?.closeSync();
    wsInstance?.closeSync();
    if (name === 'postgres') await w.sql(`DROP SCHEMA IF EXISTS ${modelSchema} CASCADE; DROP SCHEMA IF EXISTS ${stateSchema} CASCADE`);
    await w?.close();
  });

  const spec = (): WarehouseDiffSpec => ({
    model: { table },
    stateSchema,
    stateName: 'items_pipeline',
    modelNames: ['a', 'b', 'v', 'note'],
    columns: [
      { name: 'a', type: { kind: 'int32' }, nullable: false },
      { name: 'b', type: { kind: 'text' }, nullable: false },
      { name: 'value', type: { kind: 'int32' }, nullable: true },
      { name: 'note', type: { kind: 'text' }, nullable: true },
    ],
    keys: ['a', 'b'],
    partitions: 3,
  });

  /** Delivers every partition as the engine would, refusing the rows `refuse` names (by value). */
  async function deliverAll(s: WarehouseDiffSpec, mode: 'upsert' | 'mirror', refuse: (row: { value: number }) => boolean = () => false) {
    const wd = w.source.warehouseDiff!;
    const rules = advanceRules(mode);
    const delivered: number[] = [];
    for (let part = 0; part < s.partitions; part++) {
      await loadPartition(wd, s, ws, part, { sentKinds: rules.sentKinds, isMirror: mode === 'mirror', batchSize: 100 });
      const rows = (await ws.runAndReadAll(`SELECT _rn, value FROM _outflow_delta`)).getRowObjects();
      for (const r of rows) {
        if (refuse({ value: Number(r.value) })) await ws.run(`INSERT INTO _outflow_rejected VALUES (${Number(r._rn)})`);
        else delivered.push(Number(r.value));
      }
      await advancePartition(wd, s, { part, ...rules, ...(await refusedRows(ws)) });
    }
    return delivered;
  }

  it('creates its state schema, sends every row on the first run and records them in the snapshot there', async () => {
    const s = spec();
    const wd = w.source.warehouseDiff!;
    expect(await openWarehouseState(wd, s)).toEqual({ fingerprint: undefined });
    const counts = await computeWarehouseDiff(wd, s, { isFull: true, hadFingerprint: false });
    expect(counts).toMatchObject({ read: 1000, added: 1000, changed: 0, removed: 0 });
    // The key's hash spreads rows over every partition.
    expect(counts.parts.map((p) => p.part)).toEqual([0, 1, 2]);
    expect(counts.parts.every((p) => p.added > 200)).toBe(true);
    // Rows whose value ends in 7 are refused by the destination: they stay pending.
    const delivered = await deliverAll(s, 'upsert', (r) => r.value % 100 === 7);
    expect(delivered).toHaveLength(990);
    await finishWarehouseDiff(wd, s, 'fp1');
    const snap = await w.sql(`SELECT count(*) AS n FROM ${stateSchema}.items_pipeline_snapshot`);
    expect(Number(snap[0].n)).toBe(990);
    expect(await openWarehouseState(wd, s)).toEqual({ fingerprint: 'fp1' });
  });

  it('finds only what changed, plus the rows refused last time, and advances the snapshot by what was delivered', async () => {
    const s = spec();
    const wd = w.source.warehouseDiff!;
    await w.sql(`UPDATE ${table} SET note = 'changed' WHERE v BETWEEN 100 AND 119`);
    await w.sql(`DELETE FROM ${table} WHERE v BETWEEN 200 AND 204`);
    await w.sql(`INSERT INTO ${table} VALUES (5000, 'new', 5000, 'n'), (5001, 'new', 5001, 'n')`);
    const counts = await computeWarehouseDiff(wd, s, { isFull: false, hadFingerprint: true });
    // The 10 rows refused last time come back as added (v=107 was also updated).
    expect(counts).toMatchObject({ read: 997, snapshotRows: 990, added: 12, changed: 19, removed: 5 });
    const delivered = await deliverAll(s, 'mirror');
    expect(delivered.sort((x, y) => x - y)).toContain(5001);
    await finishWarehouseDiff(wd, s, 'fp1');
    const snap = await w.sql(`SELECT count(*) AS n FROM ${stateSchema}.items_pipeline_snapshot`);
    expect(Number(snap[0].n)).toBe(997);
    const again = await computeWarehouseDiff(wd, s, { isFull: false, hadFingerprint: true });
    expect(again).toMatchObject({ read: 997, added: 0, changed: 0, removed: 0, parts: [] });
  });

  it('refuses NULL and duplicate keys before anything is sent, naming them', async () => {
    const s = spec();
    const wd = w.source.warehouseDiff!;
    // A copy of an unchanged row: only the counts show it.
    await w.sql(`INSERT INTO ${table} SELECT * FROM ${table} WHERE v = 300`);
    await expect(computeWarehouseDiff(wd, s, { isFull: false, hadFingerprint: true })).rejects.toThrow(/duplicate primary keys \(a, b\): .*30.*k0.* ×2/);
    await w.sql(`DELETE FROM ${table} WHERE v = 300`);
    await w.sql(`INSERT INTO ${table} VALUES (30, 'k0', 300, 'n300')`);
    await expect(computeWarehouseDiff(wd, s, { isFull: false, hadFingerprint: true })).resolves.toMatchObject({ added: 0, changed: 0 });
  });
});

describe('state the credentials may not create', () => {
  it('postgres: names the schema and the privilege to grant', async () => {
    const role = uniqueName('wh_norole');
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    const url = new URL(PG_URL);
    url.username = role;
    const source = await createSource({ type: 'postgres', url: url.toString() }, '.');
    try {
      const spec: WarehouseDiffSpec = { model: { table: 'x' }, stateSchema: uniqueName('wh_denied'), stateName: 'p', modelNames: ['a'], columns: [{ name: 'a', type: { kind: 'int32' }, nullable: false }], keys: ['a'], partitions: 1 };
      await expect(openWarehouseState(source.warehouseDiff!, spec)).rejects.toThrow(
        new RegExp(`schema "${spec.stateSchema}", which does not exist, and ${role} may not create it .*GRANT CREATE ON DATABASE`),
      );
    } finally {
      await source.close();
      await admin.query(`DROP ROLE ${role}`);
      await admin.end();
    }
  });

  it('duckdb: a source opened read_only says so', async () => {
    const dir = tempDir();
    const path = join(dir, 'w.duckdb');
    const rw = await createSource({ type: 'duckdb', path, read_only: false }, dir);
    await rw.execute!('CREATE TABLE t (a INTEGER)');
    await rw.close();
    const source = await createSource({ type: 'duckdb', path, read_only: true }, dir);
    try {
      const spec: WarehouseDiffSpec = { model: { table: 't' }, stateSchema: 'outflow_state', stateName: 'p', modelNames: ['a'], columns: [{ name: 'a', type: { kind: 'int32' }, nullable: false }], keys: ['a'], partitions: 1 };
      await expect(openWarehouseState(source.warehouseDiff!, spec)).rejects.toThrow(/schema "outflow_state" of the source file, which is opened read_only; set source.read_only: false/);
    } finally {
      await source.close();
    }
  });
});
