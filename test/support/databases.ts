import { mkdtempSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import mysql from 'mysql2';
import { DuckDBInstance } from '@duckdb/node-api';
import { PGlite } from '@electric-sql/pglite';

export const PG_URL = process.env.OUTFLOW_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MARIADB_URL = process.env.OUTFLOW_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
export const US_STATES_CSV = resolve(__dirname, '../../examples/us-states/state_abbreviations.csv');

/** Destination engines the shared suites run against; narrow with OUTFLOW_TEST_ENGINES=postgres,pglite. */
export const DESTINATION_ENGINES = (process.env.OUTFLOW_TEST_ENGINES ?? 'postgres,pglite')
  .split(',')
  .filter((e) => e === 'postgres' || e === 'pglite') as ('postgres' | 'pglite')[];

let counter = 0;
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter++}`;
}

export function tempDir(prefix = 'outflow-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A way to look at the destination from the test, independent of outflow's own code. */
export interface TestDestination {
  engine: 'postgres' | 'pglite' | 'mariadb';
  /** The `destination:` block for a pipeline YAML. */
  yaml(table: string): string;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export async function openTestDestination(engine: TestDestination['engine'], dir: string): Promise<TestDestination> {
  if (engine === 'mariadb') return openTestMariadb();
  if (engine === 'postgres') {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    return {
      engine,
      yaml: (table) => `destination:\n  type: postgres\n  url: \${OUTFLOW_TEST_PG_URL}\n  table: ${table}\n`,
      query: async (sql, params) => (await client.query(sql, params)).rows,
      close: () => client.end(),
    };
  }
  // PGlite allows one process at a time per data directory: the test opens it only
  // between runs (open → look → close), never while outflow has it open.
  const dataDir = join(dir, 'pglite');
  return {
    engine,
    yaml: (table) => `destination:\n  type: pglite\n  path: ${dataDir}\n  table: ${table}\n`,
    query: async (sql, params) => {
      const db = await PGlite.create(dataDir);
      try {
        return (await db.query(sql, params)).rows as never[];
      } finally {
        await db.close();
      }
    },
    close: async () => undefined,
  };
}

/**
 * The local MariaDB, looked at with ANSI_QUOTES so the shared suites' "quoted" identifiers
 * read as they do in Postgres; count(*) comes back as a number.
 */
async function openTestMariadb(): Promise<TestDestination> {
  const conn = mysql.createConnection({ uri: MARIADB_URL, charset: 'utf8mb4', supportBigNumbers: true, dateStrings: true });
  const query = <T>(sql: string, params?: unknown[]) =>
    new Promise<T[]>((resolve, reject) => conn.query(sql, params ?? [], (err, rows) => (err ? reject(err) : resolve(rows as T[]))));
  await query(`SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES'), time_zone = '+00:00'`);
  return {
    engine: 'mariadb',
    yaml: (table) => `destination:\n  type: mysql\n  url: \${OUTFLOW_TEST_MYSQL_URL}\n  table: ${table}\n`,
    query,
    close: () => new Promise<void>((resolve) => conn.end(() => resolve())),
  };
}

/** A DuckDB warehouse file the test can change between runs. */
export async function duckdbExec(path: string, sql: string | string[]): Promise<void> {
  const instance = await DuckDBInstance.create(path);
  const c = await instance.connect();
  try {
    for (const s of Array.isArray(sql) ? sql : [sql]) await c.run(s);
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

export function writeFile(path: string, text: string): string {
  writeFileSync(path, text);
  return path;
}

export { cpSync };
process.env.OUTFLOW_TEST_PG_URL ??= PG_URL;

/** The primary key columns of a Postgres table, in key order. */
export async function pgPrimaryKey(client: pg.Client, table: string): Promise<string[]> {
  const rows = await client.query<{ attname: string }>(
    `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
      WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`,
    [client.escapeIdentifier(table)],
  );
  return rows.rows.map((r) => r.attname);
}
process.env.OUTFLOW_TEST_MYSQL_URL ??= MARIADB_URL;
