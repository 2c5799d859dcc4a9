import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadPipeline, type Pipeline } from '../../src/config/load-pipeline.js';
import { duckdbExec, openTestDestination, tempDir, uniqueName, writeFile, type TestDestination } from './databases.js';

/**
 * A DuckDB warehouse table and a Postgres target for one test, with a pipeline file
 * between them. `sameRows` compares the two independently of outflow: row count and an
 * md5 over every row rendered as text in key order, computed by each database itself.
 */
export interface Fixture {
  dir: string;
  warehouse: string;
  table: string;
  /** The pipeline's name (also names its staging tables and snapshot). */
  name: string;
  db: TestDestination;
  /** Writes (or rewrites) the pipeline file; `extra` is appended YAML. */
  pipelineFile(opts: { mode: string; key?: string; mapping?: Record<string, string>; extra?: string; name?: string }): string;
  pipeline(opts: Parameters<Fixture['pipelineFile']>[0]): Pipeline;
  warehouseSql(sql: string | string[]): Promise<void>;
  warehouseRows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/** The `destination:` block of a fixture's pipeline, when it is not the test database's own (an HTTP API, Redis). */
export type DestinationYaml = (table: string, pipeline: { mode: string; keys: string[] }) => string;

export async function openFixture(prefix: string, engine: TestDestination['engine'] = 'postgres', destinationYaml?: DestinationYaml): Promise<Fixture> {
  const dir = tempDir(`outflow-${prefix}-`);
  const warehouse = join(dir, 'warehouse.duckdb');
  const table = uniqueName(prefix);
  const db = await openTestDestination(engine, dir);
  const name = uniqueName(prefix);
  const f: Fixture = {
    dir,
    warehouse,
    table,
    name,
    db,
    pipelineFile(o) {
      const mapping = o.mapping ? `mapping:\n${Object.entries(o.mapping).map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n` : '';
      return writeFile(
        join(dir, `${o.name ?? name}.yaml`),
        `name: ${o.name ?? name}
source:
  type: duckdb
  path: ${warehouse}
model:
  table: items
${destinationYaml ? destinationYaml(table, { mode: o.mode, keys: keyList(o.key ?? 'id') }) : db.yaml(table)}primary_key: ${o.key ?? 'id'}
mode: ${o.mode}
${mapping}state:
  dir: ${join(dir, 'state')}
retry:
  attempts: 1
${o.extra ?? ''}`,
      );
    },
    pipeline: (o) => loadPipeline(f.pipelineFile(o)),
    warehouseSql: (sql) => duckdbExec(warehouse, sql),
    async warehouseRows<T>(sql: string) {
      const instance = await DuckDBInstance.create(warehouse);
      const c = await instance.connect();
      try {
        return (await c.runAndReadAll(sql)).getRowObjectsJson() as T[];
      } finally {
        c.closeSync();
        instance.closeSync();
      }
    },
    query: <T>(sql: string, params?: unknown[]) => db.query<T>(sql, params),
    async close() {
      if (engine === 'pglite') {
        rmSync(dir, { recursive: true, force: true }); // the PGlite data directory is in it
        return;
      }
      const client = db;
      await client.query(`DROP TABLE IF EXISTS "${table}" CASCADE`).catch(() => undefined);
      // Staging tables outflow leaves behind when a run fails or is killed (named per pipeline).
      for (const kind of ['stage', 'keys']) {
        await client.query(`DROP TABLE IF EXISTS "${`_outflow_${kind}_${name}`.slice(0, 63)}"`).catch(() => undefined);
      }
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return f;
}

/** `id` or `[a, b]` as written after primary_key: in a pipeline file. */
function keyList(key: string): string[] {
  return key.replace(/[[\]\s]/g, '').split(',');
}

/** Count and md5 of `id|name|v` rows in id order, on each side. */
export async function sameRows(f: Fixture, columns = ['id', 'name', 'v']): Promise<{ model: { n: number; h: string }; target: { n: number; h: string } }> {
  const expr = columns.map((c) => `coalesce(CAST(${c} AS VARCHAR), '<null>')`).join(` || '|' || `);
  const [model] = await f.warehouseRows<{ n: string; h: string }>(
    `SELECT count(*) AS n, coalesce(md5(string_agg(${expr}, ',' ORDER BY ${columns[0]})), '') AS h FROM items`,
  );
  const [target] = await f.query<{ n: number; h: string }>(
    `SELECT count(*)::int AS n, coalesce(md5(string_agg(${expr}, ',' ORDER BY ${columns[0]})), '') AS h FROM "${f.table}"`,
  );
  return { model: { n: Number(model.n), h: model.h }, target: { n: target.n, h: target.h } };
}

/** A fixture whose model is `items(id, 'n' || id)` for ids 1..rows, and an empty target `(id integer PRIMARY KEY, name text)`. */
export async function openNamesFixture(prefix: string, rows = 10): Promise<Fixture> {
  const f = await openFixture(prefix);
  await f.warehouseSql(`CREATE TABLE items AS SELECT i::INTEGER AS id, 'n' || i AS name FROM range(1, ${rows + 1}) t(i)`);
  await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, name text)`);
  return f;
}
