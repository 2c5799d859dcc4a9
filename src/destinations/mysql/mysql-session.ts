import { once } from 'node:events';
import { Readable } from 'node:stream';
import mysql from 'mysql2';
import type { EncodedChunk } from '../destination.js';
import { tlsOptionsFor } from '../../connections/tls-options.js';
import { OutflowError, TransientError } from '../../errors.js';
import type { MysqlDestinationConfig } from './mysql-config.js';
import { describeMysqlError, isTransientMysqlError, wrapMysqlError } from './mysql-errors.js';
import { cloudSqlTargetOf } from '../../connections/cloudsql/cloudsql-config.js';
import { openCloudSql } from '../../connections/cloudsql/cloudsql-connector.js';

/** What a data-changing statement reports (FOUND_ROWS off: an update that changes nothing counts 0). */
export interface Outcome {
  affectedRows: number;
  warnings: number;
  /** The server's info line, e.g. `Records: 3  Duplicates: 1  Warnings: 0`. */
  info: string;
}

/**
 * One MySQL/MariaDB connection in the session outflow needs: strict SQL mode (a value too
 * long, out of range or invalid is an error, never truncated or zeroed), UTC time zone, and
 * values that reach JavaScript without lossy conversion (BIGINT/DECIMAL as strings, dates as
 * the server's text).
 */
export interface MysqlSession {
  readonly isMariadb: boolean;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** INSERT/UPDATE/DELETE: affected rows, warnings and the info line. */
  change(sql: string, params?: unknown[]): Promise<Outcome>;
  /** Runs `LOAD DATA LOCAL INFILE …` feeding the file from the chunks, with backpressure. */
  loadData(sql: string, chunks: AsyncIterable<EncodedChunk>): Promise<Outcome>;
  /** The warnings of the last statement (SHOW WARNINGS). */
  warnings(): Promise<{ level: string; code: number; message: string }[]>;
  /** Rows of a SELECT as arrays, `size` at a time, the connection paused while the consumer works. */
  stream(sql: string, size: number): AsyncIterable<unknown[][]>;
  escapeId(name: string): string;
  close(): Promise<void>;
}

export interface MysqlSessionOptions {
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
  label: string;
  baseDir: string;
}

/**
 * STRICT_ALL_TABLES makes bad values errors for every engine (STRICT_TRANS_TABLES only for
 * transactional ones, and only for the first row); the NO_ZERO_* modes refuse '0000-00-00'.
 * LOAD DATA LOCAL still downgrades errors to warnings (the server cannot stop the client's
 * file midway), so every load checks its warning count too.
 */
const SQL_MODE = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO';
/** How long past timeouts.statement the client waits for an answer from a server that stopped replying. */
const CLIENT_GRACE_MS = 5_000;

export async function connectMysql(config: MysqlDestinationConfig, opts: MysqlSessionOptions): Promise<MysqlSession> {
  const ssl = tlsOptionsFor(config.ssl, opts.baseDir, 'destination.ssl');
  const connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
  // A Cloud SQL instance: the connector hands mysql2 a ready TLS socket in place of host and
  // port. LOAD DATA LOCAL still works: the file is a client-side stream (infileStreamFactory)
  // written into whatever socket the connection has.
  const cloudTarget = cloudSqlTargetOf(config);
  const cloud = cloudTarget ? await openCloudSql(cloudTarget, { timeoutMs: connectTimeoutMs }) : undefined;
  const conn = mysql.createConnection({
    ...(cloud ? cloud.options : { uri: config.url }),
    charset: 'utf8mb4',
    // Off, so affectedRows counts rows really changed, not rows matched: an upsert of
    // identical values counts 0 and an update 2 (MySQL's ON DUPLICATE KEY arithmetic).
    flags: ['-FOUND_ROWS'],
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    dateStrings: true,
    jsonStrings: true,
    timezone: 'Z',
    connectTimeout: connectTimeoutMs,
    multipleStatements: false,
    ...(ssl ? { ssl: ssl as mysql.SslOptions } : {}),
  });
  // An idle-connection error (server restart) must not crash the process; the next query fails instead.
  conn.on('error', () => undefined);
  let lost: TransientError | undefined;
  const timeout = opts.statementTimeoutMs ? opts.statementTimeoutMs + CLIENT_GRACE_MS : undefined;
  const failure = (e: unknown): unknown => {
    if (e instanceof OutflowError) return e;
    if ((e as { code?: string })?.code === 'PROTOCOL_SEQUENCE_TIMEOUT') {
      lost = new TransientError(`${opts.label}: the server did not answer within ${timeout} ms (timeouts.statement plus ${CLIENT_GRACE_MS} ms); the connection is treated as lost`, { cause: e });
      return lost;
    }
    if ((e as { errno?: number })?.errno === 1969 || (e as { errno?: number })?.errno === 3024) {
      return new OutflowError(`${opts.label}: a statement ran longer than timeouts.statement (${opts.statementTimeoutMs} ms) and the server stopped it`, { cause: e });
    }
    if (isTransientMysqlError(e) && !lost) lost = new TransientError(`${opts.label}: connection lost: ${describeMysqlError(e)}`, { cause: e });
    return isTransientMysqlError(e) ? lost : e;
  };
  const raw = <T>(sql: string, params?: unknown[], extra: Record<string, unknown> = {}) =>
    new Promise<T>((resolve, reject) => {
      if (lost) return reject(lost);
      conn.query({ sql, values: params, timeout, ...extra }, (err, rows) => (err ? reject(failure(err)) : resolve(rows as T)));
    });
  const outcome = (r: mysql.ResultSetHeader): Outcome => ({ affectedRows: r.affectedRows, warnings: r.warningStatus ?? 0, info: r.info ?? '' });

  let isMariadb = false;
  try {
    await new Promise<void>((resolve, reject) => conn.connect((err) => (err ? reject(err) : resolve())));
    const [v] = await raw<{ v: string }[]>('SELECT VERSION() AS v');
    isMariadb = /mariadb/i.test(v.v);
    await raw(`SET SESSION sql_mode = ?, time_zone = '+00:00'`, [SQL_MODE]);
    if (opts.statementTimeoutMs) {
      // MariaDB stops any statement after max_statement_time (seconds); MySQL only SELECTs after max_execution_time (ms).
      if (isMariadb) await raw('SET SESSION max_statement_time = ?', [opts.statementTimeoutMs / 1000]);
      else await raw('SET SESSION max_execution_time = ?', [opts.statementTimeoutMs]);
    }
  } catch (e) {
    conn.destroy();
    cloud?.close();
    throw wrapMysqlError(`${opts.label}: cannot connect`, e);
  }

  return {
    isMariadb,
    query: <T>(sql: string, params?: unknown[]) => raw<T[]>(sql, params),
    change: async (sql, params) => outcome(await raw<mysql.ResultSetHeader>(sql, params)),
    async loadData(sql, chunks) {
      const socket = (conn as unknown as { stream: NodeJS.WritableStream & { writableNeedDrain: boolean } }).stream;
      let file: Readable | undefined;
      // mysql2 copies each chunk into a packet as it arrives and never pauses the file on a
      // full socket; the generator waits for the socket to drain, so at most one chunk
      // waits in memory however slow the server is. A chunk is handed back once the next
      // one is asked for: by then mysql2 has copied it.
      const gated = async function* () {
        for await (const c of chunks) {
          if (socket.writableNeedDrain) await once(socket, 'drain');
          yield c.bytes;
          c.release?.();
        }
      };
      try {
        return outcome(
          await raw<mysql.ResultSetHeader>(sql, undefined, {
            infileStreamFactory: () => (file = Readable.from(gated(), { objectMode: false, highWaterMark: 1 })),
          }),
        );
      } finally {
        file?.destroy();
      }
    },
    async warnings() {
      const rows = await raw<{ Level: string; Code: number; Message: string }[]>('SHOW WARNINGS');
      return rows.map((w) => ({ level: w.Level, code: w.Code, message: w.Message }));
    },
    async *stream(sql, size) {
      if (lost) throw lost;
      const rows = conn.query({ sql, rowsAsArray: true }).stream({ highWaterMark: size });
      let batch: unknown[][] = [];
      try {
        for await (const row of rows) {
          batch.push(row as unknown[]);
          if (batch.length >= size) {
            yield batch;
            batch = [];
          }
        }
      } catch (e) {
        throw failure(e);
      }
      if (batch.length) yield batch;
    },
    escapeId: (name) => mysql.escapeId(name),
    async close() {
      if (lost) conn.destroy();
      else {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            conn.destroy();
            resolve();
          }, 2_000);
          conn.end(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      // Stops the connector's certificate refresh timer, which would keep the process alive.
      cloud?.close();
    },
  };
}
