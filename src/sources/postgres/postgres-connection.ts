import pg from 'pg';
import { redact } from '../../config/redact.js';
import { ConnectionError, ModelError, OutflowError, TransientError } from '../../errors.js';
import type { PostgresSourceConfig } from './postgres-config.js';
import { isPgConnectionSettingsError, isTransientPgError } from '../../connections/postgres-faults.js';
import { tlsOptionsFor } from '../../connections/tls-options.js';
import { cloudSqlTargetOf } from '../../connections/cloudsql/cloudsql-config.js';
import { openCloudSql } from '../../connections/cloudsql/cloudsql-connector.js';
import { libpqCompatibleUrl, missingPasswordMessage } from '../../connections/pg-connection-string.js';

/** A pool and what else to close with it (the Cloud SQL connector, when the source uses one). */
export interface OwnedPgPool {
  pool: pg.Pool;
  close(): Promise<void>;
}

/** A small pool for one source: describe and one streaming read at a time need two clients at most. */
export async function createPgPool(config: PostgresSourceConfig, baseDir: string): Promise<OwnedPgPool> {
  const ssl = tlsOptionsFor(config.ssl, baseDir, 'source.ssl');
  const cloudTarget = cloudSqlTargetOf(config);
  const cloud = cloudTarget ? await openCloudSql(cloudTarget) : undefined;
  const pool = new pg.Pool({
    ...(cloud ? cloud.options : { connectionString: libpqCompatibleUrl(config.url!) }),
    ...(ssl === undefined ? {} : { ssl }),
    max: 2,
    application_name: 'outflow',
    connectionTimeoutMillis: 10_000,
  });
  // An idle client dropped by the server would otherwise crash the process; the next
  // checkout fails instead and is reported by the read that needed it.
  pool.on('error', () => {});
  return {
    pool,
    async close() {
      await pool.end();
      cloud?.close();
    },
  };
}


/** Maps a pg error to the error kind the engine acts on; messages are redacted. */
export function classifyPgError(e: unknown, what: string): Error {
  if (e instanceof OutflowError) return e;
  const err = e as Error & { code?: string };
  const message = `postgres source: ${what}: ${missingPasswordMessage(e) ?? redact(err.message ?? String(e))}`;
  if (isTransientPgError(e)) return new TransientError(message, { cause: e });
  if (isPgConnectionSettingsError(e) || /when trying to connect/i.test(err.message ?? '')) return new ConnectionError(message, { cause: e });
  return new ModelError(message, { cause: e });
}
