/**
 * Helpers for suites that run one test body per source engine: the local MariaDB, a
 * Postgres schema, DuckDB files, and the BigQuery fake with its access token in the
 * environment (the pipeline YAML never holds it).
 */
import mysql from 'mysql2';
import { BigqueryFakeServer } from './bigquery-fake-server.js';
import { duckdbExec } from './databases.js';

export const MYSQL_URL = process.env.OUTFLOW_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** The source engines of the shared source suites; narrow with OUTFLOW_TEST_SOURCES=duckdb,mysql. */
export const SOURCE_ENGINES = ['duckdb', 'postgres', 'mysql', 'parquet', 'bigquery'] as const;
export type SourceEngine = (typeof SOURCE_ENGINES)[number];
export function selectedSources(): SourceEngine[] {
  const wanted = process.env.OUTFLOW_TEST_SOURCES?.split(',');
  return SOURCE_ENGINES.filter((s) => !wanted || wanted.includes(s));
}

/** A MariaDB connection for setting up source tables, with promise-returning query. */
export function mysqlAdmin(): { query: (sql: string, params?: unknown[]) => Promise<unknown>; close: () => Promise<void> } {
  const conn = mysql.createConnection({ uri: MYSQL_URL, charset: 'utf8mb4', multipleStatements: true });
  return {
    query: (sql, params) => new Promise((resolve, reject) => conn.query(sql, params ?? [], (err, rows) => (err ? reject(err) : resolve(rows)))),
    close: () => new Promise((resolve) => conn.end(() => resolve())),
  };
}

/** Writes a Parquet file from a DuckDB SELECT, replacing what was there. */
export async function writeParquet(path: string, selectSql: string): Promise<void> {
  await duckdbExec(':memory:', `COPY (${selectSql}) TO '${path.replace(/'/g, "''")}' (FORMAT parquet)`);
}

export const BIGQUERY_TOKEN = 'ya29.outflow-engine-tests-token';
export const BIGQUERY_PROJECT = 'outflow-test';
export const BIGQUERY_DATASET = 'warehouse';

/**
 * Starts the local BigQuery fake and sets OUTFLOW_BIGQUERY_ACCESS_TOKEN, the way a user
 * hands outflow a token; `close` restores the environment.
 */
export async function startBigqueryFake(): Promise<{ fake: BigqueryFakeServer; sourceYaml: string; token: string; close: () => Promise<void> }> {
  const fake = await BigqueryFakeServer.start({ expectedToken: BIGQUERY_TOKEN });
  const before = process.env.OUTFLOW_BIGQUERY_ACCESS_TOKEN;
  process.env.OUTFLOW_BIGQUERY_ACCESS_TOKEN = BIGQUERY_TOKEN;
  return {
    fake,
    token: BIGQUERY_TOKEN,
    sourceYaml: `source:\n  type: bigquery\n  project: ${BIGQUERY_PROJECT}\n  dataset: ${BIGQUERY_DATASET}\n  api_endpoint: ${fake.endpoint}\n`,
    close: async () => {
      if (before === undefined) delete process.env.OUTFLOW_BIGQUERY_ACCESS_TOKEN;
      else process.env.OUTFLOW_BIGQUERY_ACCESS_TOKEN = before;
      await fake.close();
    },
  };
}
