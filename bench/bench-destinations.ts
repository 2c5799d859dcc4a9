/**
 * What differs per destination in `npm run bench`, one entry each: how the target table is
 * made and counted, the `destination:` block of the pipeline, the destination's own bulk
 * load of the CSV (the limit line) and which methods apply. bench.ts knows no engine.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { PG_COLUMNS } from './customer-model.js';
import { child, timed, type Measurement } from './bench-process.js';

export const PG_URL = process.env.OUTFLOW_BENCH_PG_URL ?? process.env.OUTFLOW_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TABLE = 'bench_customers';

export type Method = 'psql' | 'pglite_copy' | 'mysql_load' | 'full' | 'incremental' | 'floor' | 'unchanged' | 'verify' | 'naive' | 'pgloader';

export interface BenchDestination {
  /** The method that is the limit line, and how the table header names it. */
  limit: Method;
  limitShort: string;
  /** Names the engine on the machine line (its server version follows). */
  engine: string;
  /** Methods this destination can measure; others asked for are left out. */
  methods: ReadonlySet<Method>;
  /** Appended to bench/results/latest*.json and the dated file ('' for Postgres). */
  resultSuffix: string;
  /** The pipeline's `destination:` block. */
  yaml: string;
  version(): Promise<string>;
  /** Drops and creates the target table, empty. */
  recreate(): Promise<void>;
  count(): Promise<number>;
  /** Before a measured load: the previous load's dirty pages written out. */
  checkpoint(): Promise<void>;
  /** The destination's own bulk load of the CSV into the (empty) table. */
  loadCsv(csv: string): Promise<Measurement>;
  /** The CSV's rows as a DuckDB SELECT over the model table, when the loader reads other text forms than Postgres. */
  csvSelect?: string;
  /** DuckDB COPY options of that CSV. */
  csvOptions?: string;
  /** The server alone updating 1% of the rows in place, rolled back (the floor of an incremental run). */
  floor?(round: number): Measurement;
  /** Where the naive INSERT baseline connects (a postgres:// or mysql:// URL). */
  naiveUrl?: string;
  /** Method labels that name this destination. */
  labels?: Partial<Record<Method, string>>;
  close(): Promise<void>;
}

async function postgres(): Promise<BenchDestination> {
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  return {
    limit: 'psql',
    limitShort: 'psql \\copy',
    methods: new Set<Method>(['psql', 'full', 'incremental', 'floor', 'unchanged', 'verify', 'naive', 'pgloader']),
    resultSuffix: '',
    yaml: `destination:\n  type: postgres\n  url: ${PG_URL}\n  table: ${TABLE}\n  create_table: false\n`,
    engine: 'PostgreSQL',
    version: async () => String((await admin.query('SHOW server_version')).rows[0].server_version),
    async recreate() {
      await admin.query(`DROP TABLE IF EXISTS ${TABLE}`);
      await admin.query(`CREATE TABLE ${TABLE} (${PG_COLUMNS.join(', ')})`);
      await admin.query('CHECKPOINT');
    },
    count: async () => Number((await admin.query(`SELECT count(*)::int8 AS n FROM ${TABLE}`)).rows[0].n),
    checkpoint: async () => void (await admin.query('CHECKPOINT')),
    async loadCsv(csv) {
      const r = timed('psql', [PG_URL, '-q', '-v', 'ON_ERROR_STOP=1', '-c', `\\copy ${TABLE} FROM '${csv}' (FORMAT csv)`]);
      return { ms: r.ms, peakRssMb: r.peakRssMb, rows: 0 };
    },
    floor: (round) =>
      timed('psql', [
        PG_URL, '-q', '-v', 'ON_ERROR_STOP=1', '-c', 'BEGIN',
        '-c', `UPDATE ${TABLE} SET orders = orders + 1, lifetime_value = lifetime_value + 1 WHERE id % 100 = ${round}`,
        '-c', 'ROLLBACK',
      ]),
    naiveUrl: PG_URL,
    async close() {
      await admin.query(`DROP TABLE IF EXISTS ${TABLE}`).catch(() => undefined);
      await admin.end();
    },
  };
}

/**
 * PGlite in a data directory under the work dir. One process at a time may open it, so
 * the harness opens it only between loads (each open costs a second or two, never timed).
 */
async function pglite(work: string): Promise<BenchDestination> {
  const { PGlite } = await import('@electric-sql/pglite');
  const dataDir = join(work, 'pglite');
  const withDb = async <T>(f: (db: InstanceType<typeof PGlite>) => Promise<T>): Promise<T> => {
    const db = await PGlite.create(dataDir);
    try {
      return await f(db);
    } finally {
      await db.close();
    }
  };
  return {
    limit: 'pglite_copy',
    limitShort: "PGlite's COPY",
    methods: new Set<Method>(['pglite_copy', 'full', 'incremental', 'unchanged', 'verify']),
    resultSuffix: '-pglite',
    yaml: `destination:\n  type: pglite\n  path: ${dataDir}\n  table: ${TABLE}\n  create_table: false\n`,
    engine: 'PGlite, PostgreSQL',
    version: () => withDb(async (db) => (await db.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0].v),
    async recreate() {
      // A fresh data directory each time: the same start for every load into an empty table.
      rmSync(dataDir, { recursive: true, force: true });
      mkdirSync(dataDir, { recursive: true });
      await withDb(async (db) => void (await db.exec(`CREATE TABLE ${TABLE} (${PG_COLUMNS.join(', ')})`)));
    },
    count: () => withDb(async (db) => Number((await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${TABLE}`)).rows[0].n)),
    checkpoint: () => withDb(async (db) => void (await db.exec('CHECKPOINT'))),
    async loadCsv(csv) {
      const r = await child(['pglite-copy', dataDir, csv, TABLE]);
      return { ms: r.ms, peakRssMb: r.peakRssMb, rows: r.rows };
    },
    async close() {},
  };
}

export const MYSQL_URL = process.env.OUTFLOW_BENCH_MYSQL_URL ?? process.env.OUTFLOW_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** The same columns in MariaDB/MySQL: DATETIME(6) holds the UTC instant, TINYINT(1) the boolean. */
const MYSQL_COLUMNS = [
  'id BIGINT PRIMARY KEY',
  'email TEXT',
  'name TEXT',
  'country CHAR(2)',
  'lifetime_value DECIMAL(12,2)',
  'orders INT',
  'last_order_at DATETIME(6)',
  'is_active TINYINT(1)',
  'segment TEXT',
];

/**
 * MariaDB or MySQL on a server; the limit line is the `mysql` client's own
 * LOAD DATA LOCAL INFILE of the same rows as CSV, in the text forms MySQL reads.
 */
async function mysqlServer(): Promise<BenchDestination> {
  const admin = await mysql.createConnection({ uri: MYSQL_URL });
  const u = new URL(MYSQL_URL);
  const client = (sql: string) =>
    timed('mysql', [
      '--local-infile=1', `-h${u.hostname}`, `-P${u.port || 3306}`, `-u${decodeURIComponent(u.username)}`,
      ...(u.password ? [`-p${decodeURIComponent(u.password)}`] : []), u.pathname.slice(1), '-e', sql,
    ]);
  const one = async (sql: string) => ((await admin.query(sql)) as unknown as [Record<string, unknown>[]])[0][0];
  return {
    limit: 'mysql_load',
    limitShort: 'the mysql client',
    methods: new Set<Method>(['mysql_load', 'full', 'incremental', 'floor', 'unchanged', 'naive']),
    resultSuffix: '-mysql',
    yaml: `destination:\n  type: mysql\n  url: ${MYSQL_URL}\n  table: ${TABLE}\n  create_table: false\n`,
    engine: 'MySQL/MariaDB',
    version: async () => String((await one('SELECT VERSION() AS v')).v),
    async recreate() {
      await admin.query(`DROP TABLE IF EXISTS ${TABLE}`);
      await admin.query(`CREATE TABLE ${TABLE} (${MYSQL_COLUMNS.join(', ')}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
    },
    count: async () => Number((await one(`SELECT count(*) AS n FROM ${TABLE}`)).n),
    // InnoDB flushes in the background; there is no CHECKPOINT to ask for.
    checkpoint: async () => undefined,
    // ESCAPED BY '': the CSV's backslashes are data; NULL is the bare word NULL.
    loadCsv: async (csv) =>
      client(
        `LOAD DATA LOCAL INFILE '${csv}' INTO TABLE ${TABLE} CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' ESCAPED BY '' LINES TERMINATED BY '\\n'`,
      ),
    csvSelect: `SELECT id, email, name, country, lifetime_value, orders, strftime(last_order_at, '%Y-%m-%d %H:%M:%S.%f') AS last_order_at,
      CAST(is_active AS INTEGER) AS is_active, segment FROM customers`,
    csvOptions: `FORMAT csv, HEADER false, NULLSTR 'NULL'`,
    floor: (round) =>
      client(`START TRANSACTION; UPDATE ${TABLE} SET orders = orders + 1, lifetime_value = lifetime_value + 1 WHERE id % 100 = ${round}; ROLLBACK`),
    naiveUrl: MYSQL_URL,
    labels: {
      floor: 'MariaDB alone: UPDATE the same 1% in place (the floor)',
      naive: 'naive multi-row INSERT (1,000 rows, mysql2)',
    },
    async close() {
      await admin.query(`DROP TABLE IF EXISTS ${TABLE}`).catch(() => undefined);
      await admin.end();
    },
  };
}

export const DESTINATIONS: Record<string, (work: string) => Promise<BenchDestination>> = { postgres, pglite, mysql: mysqlServer };
