import mysql from 'mysql2';
import { redact } from '../../config/redact.js';
import { ConnectionError, ModelError, OutflowError, TransientError } from '../../errors.js';
import { tlsOptionsFor } from '../../connections/tls-options.js';
import type { MysqlSourceConfig } from './mysql-config.js';
import { cloudSqlTargetOf } from '../../connections/cloudsql/cloudsql-config.js';
import { openCloudSql } from '../../connections/cloudsql/cloudsql-connector.js';

/**
 * A small pool whose connections hand over values without lossy conversion: BIGINT and
 * DECIMAL as strings, dates as the server's text, JSON as text.
 */
export async function createMysqlPool(config: MysqlSourceConfig, baseDir: string): Promise<{ pool: mysql.Pool; close(): Promise<void> }> {
  const ssl = tlsOptionsFor(config.ssl, baseDir, 'source.ssl');
  const cloudTarget = cloudSqlTargetOf(config);
  const cloud = cloudTarget ? await openCloudSql(cloudTarget) : undefined;
  const pool = mysql.createPool({
    // A Cloud SQL instance: the connector hands mysql2 a ready TLS socket in place of host and port.
    ...(cloud ? cloud.options : { uri: config.url }),
    connectionLimit: 2,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    dateStrings: true,
    jsonStrings: true,
    timezone: 'Z',
    connectTimeout: 10_000,
    ...(ssl ? { ssl: ssl as mysql.SslOptions } : {}),
  });
  return {
    pool,
    async close() {
      await new Promise<void>((resolve) => pool.end(() => resolve()));
      cloud?.close();
    },
  };
}

export function getConnection(pool: mysql.Pool): Promise<mysql.PoolConnection> {
  return new Promise((resolve, reject) => {
    pool.getConnection((err, conn) => (err ? reject(classifyMysqlError(err, 'cannot connect')) : resolve(conn)));
  });
}

export function runQuery(conn: mysql.Pool | mysql.PoolConnection, sql: string): Promise<[unknown, mysql.FieldPacket[]]> {
  return new Promise((resolve, reject) => {
    conn.query({ sql, rowsAsArray: true }, (err, rows, fields) => (err ? reject(err) : resolve([rows, fields])));
  });
}

/** TIMESTAMP columns print in the session time zone: UTC makes them '…+00' instants. */
export function setUtcSession(conn: mysql.PoolConnection): Promise<unknown> {
  return runQuery(conn, "SET time_zone = '+00:00'");
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'PROTOCOL_CONNECTION_LOST',
  'ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'ER_SERVER_SHUTDOWN', 'ER_CON_COUNT_ERROR',
]);
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ER_ACCESS_DENIED_ERROR', 'ER_BAD_DB_ERROR', 'HANDSHAKE_SSL_ERROR']);

/** Maps a mysql2 error to the error kind the engine acts on; messages are redacted. */
export function classifyMysqlError(e: unknown, what: string): Error {
  if (e instanceof OutflowError) return e;
  const err = e as Error & { code?: string };
  const message = `mysql source: ${what}: ${redact(err.message ?? String(e))}`;
  if (err.code && TRANSIENT_CODES.has(err.code)) return new TransientError(message, { cause: e });
  if (err.code && CONNECT_CODES.has(err.code)) return new ConnectionError(message, { cause: e });
  return new ModelError(message, { cause: e });
}
