import { join } from 'node:path';
import pg from 'pg';
import { loadPipeline, type Pipeline } from '../../src/config/load-pipeline.js';
import { PG_URL, duckdbExec, tempDir, uniqueName, writeFile } from './databases.js';

/**
 * A DuckDB warehouse with a model of `rows` rows (id, name, amount, ts) and a pipeline
 * file pointing at a Postgres URL (usually a TcpProxy in front of the real server), for
 * fault and timeout tests. `pg` is a direct connection the test uses to look at the target.
 */
export interface FaultFixture {
  dir: string;
  warehouse: string;
  table: string;
  pg: pg.Client;
  pipeline(url: string, extra?: string): Pipeline;
  /** Runs SQL on the warehouse (model changes between runs). */
  model(sql: string | string[]): Promise<void>;
  /** Rows in the target, and how many keys occur more than once. */
  targetCounts(): Promise<{ rows: number; keys: number; duplicated: number }>;
  close(): Promise<void>;
}

export async function openFaultFixture(prefix: string, rows: number): Promise<FaultFixture> {
  const dir = tempDir(`outflow-${prefix}-`);
  const warehouse = join(dir, 'warehouse.duckdb');
  const table = uniqueName(prefix);
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await duckdbExec(
    warehouse,
    `CREATE TABLE m AS SELECT i::BIGINT AS id, 'name ' || i || ' ' || repeat('x', 40) AS name,
            (i * 1.25)::DECIMAL(12,2) AS amount, TIMESTAMP '2024-01-01' + INTERVAL (i) SECOND AS ts
       FROM range(1, ${rows + 1}) t(i)`,
  );
  let n = 0;
  return {
    dir,
    warehouse,
    table,
    pg: client,
    pipeline(url, extra = '') {
      const file = writeFile(
        join(dir, `p${n++}.yaml`),
        `name: ${table}
source:
  type: duckdb
  path: ${warehouse}
model:
  table: m
destination:
  type: postgres
  url: ${url}
  table: ${table}
primary_key: id
mode: mirror
state:
  dir: ${join(dir, 'state')}
${extra}`,
      );
      return loadPipeline(file);
    },
    model: (sql) => duckdbExec(warehouse, sql),
    async targetCounts() {
      const r = await client.query<{ rows: number; keys: number }>(`SELECT count(*)::int AS rows, count(DISTINCT id)::int AS keys FROM ${table}`);
      return { ...r.rows[0], duplicated: r.rows[0].rows - r.rows[0].keys };
    },
    async close() {
      await client.query(`DROP TABLE IF EXISTS ${table}`);
      await client.query(`DROP TABLE IF EXISTS _outflow_stage_${table}, _outflow_keys_${table}`);
      await client.end();
    },
  };
}
