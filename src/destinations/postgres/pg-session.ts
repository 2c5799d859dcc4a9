import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { PGlite } from '@electric-sql/pglite';
import type { PostgresDestinationConfig } from './postgres-config.js';
import type { EncodedChunk } from '../destination.js';
import { rowAlignedPieces } from '../row-aligned-pieces.js';
import { tlsOptionsFor } from '../../connections/tls-options.js';
import { OutflowError, TransientError } from '../../errors.js';
import { describePgError } from './pg-errors.js';
import { preparePgliteDataDir } from './pglite-template.js';
import { isTransientPgError, type PgErrorLike } from '../../connections/postgres-faults.js';
import { cloudSqlTargetOf } from '../../connections/cloudsql/cloudsql-config.js';
import { openCloudSql } from '../../connections/cloudsql/cloudsql-connector.js';
import { libpqCompatibleUrl } from '../../connections/pg-connection-string.js';

/** COPY input: bytes, and optionally a way to hand them back once written (see EncodedChunk). */
export type CopyChunk = Pick<EncodedChunk, 'bytes' | 'release'>;

export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

/**
 * One Postgres session, on a server (node-postgres) or embedded (PGlite). Everything the
 * destination does goes through these three calls, so both engines share one dialect.
 */
export interface PgSession {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
  /**
   * Runs `COPY … FROM STDIN` feeding it the chunks, honouring backpressure. All rows or
   * none: a failed call leaves nothing of its rows behind (row isolation relies on it).
   */
  copyFrom(sql: string, chunks: AsyncIterable<Buffer | CopyChunk>): Promise<void>;
  escapeIdentifier(name: string): string;
  close(): Promise<void>;
}

export interface SessionOptions {
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
  /** Names the destination in error messages (engine, host, table; never a password). */
  label?: string;
  /** Folder a relative ssl.ca_file resolves from (the pipeline file's folder). */
  baseDir?: string;
}

/**
 * How long past timeouts.statement the client itself waits for an answer. The server's
 * statement_timeout fires first while the server is alive; this bound is for a network
 * that stops delivering packets, where no answer ever comes.
 */
const CLIENT_GRACE_MS = 5_000;
/** How long close() waits for the server to acknowledge before dropping the socket. */
const CLOSE_WAIT_MS = 2_000;

// Values outflow reads back through this session are cast to text in SQL, so the driver's
// own parsing (which turns int8 into strings and timestamps into millisecond Dates) never runs.
export async function connectServer(config: PostgresDestinationConfig, opts: SessionOptions = {}): Promise<PgSession> {
  const label = opts.label ?? 'postgres';
  const connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
  const ssl = tlsOptionsFor(config.ssl, opts.baseDir ?? process.cwd(), 'destination.ssl');
  // A Cloud SQL instance: the connector hands pg a ready TLS socket in place of host and port.
  const cloudTarget = cloudSqlTargetOf(config);
  const cloud = cloudTarget ? await openCloudSql(cloudTarget, { timeoutMs: connectTimeoutMs }) : undefined;
  const client = new pg.Client({
    ...(cloud ? cloud.options : { connectionString: libpqCompatibleUrl(config.url!) }),
    connectionTimeoutMillis: connectTimeoutMs,
    statement_timeout: opts.statementTimeoutMs,
    query_timeout: opts.statementTimeoutMs ? opts.statementTimeoutMs + CLIENT_GRACE_MS : undefined,
    keepAlive: true,
    ...(ssl === undefined ? {} : { ssl }),
    application_name: 'outflow',
  });
  // An idle-connection error (server restart) must not crash the process; the next query fails instead.
  client.on('error', () => undefined);
  const dropSocket = () => (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  // Once the connection is known lost, every later call (a ROLLBACK in a catch block, the
  // staging cleanup) fails at once instead of waiting out another timeout on a dead socket.
  let lost: TransientError | undefined;
  const close = async () => {
    if (lost) dropSocket();
    // end() waits for the server to close its side, which a hung server never does.
    const timer = setTimeout(dropSocket, CLOSE_WAIT_MS);
    await client.end().catch(() => undefined);
    clearTimeout(timer);
    cloud?.close();
  };
  const failure = (e: unknown) => {
    const err = sessionError(e, label, opts.statementTimeoutMs);
    if (err instanceof TransientError && !lost) {
      lost = err;
      dropSocket();
    }
    return err;
  };
  try {
    await client.connect();
    await client.query(`SET TimeZone = 'UTC'`);
  } catch (e) {
    await close();
    if (/timeout expired|connection timeout/i.test((e as Error)?.message ?? '')) {
      throw new TransientError(`${label}: cannot connect: no answer within timeouts.connect (${connectTimeoutMs} ms)`, { cause: e });
    }
    if (isTransientPgError(e)) throw new TransientError(`${label}: cannot connect: ${describePgError(e)}`, { cause: e });
    throw failure(e);
  }
  return {
    async query<T>(sql: string, params?: unknown[]) {
      if (lost) throw lost;
      try {
        const r = await client.query(sql, params as unknown[]);
        return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
      } catch (e) {
        throw failure(e);
      }
    },
    async copyFrom(sql, chunks) {
      if (lost) throw lost;
      const stream = client.query(copyFrom(sql));
      // pg-copy-streams reports the server's error by emitting it (and lets go of the
      // connection): the stream must not be destroyed after that, which would send CopyFail
      // on a connection it no longer has.
      let streamError: unknown;
      stream.once('error', (e) => (streamError = e));
      const done = finished(stream);
      done.catch(() => undefined); // awaited below; a failure also ends the wait for 'drain'
      try {
        for await (const chunk of chunks) {
          if (streamError) throw streamError;
          const c = Buffer.isBuffer(chunk) ? { bytes: chunk } : chunk;
          // The write callback runs once pg-copy-streams has handed the bytes to the socket
          // and the socket drained (a 1 MiB write always waits for 'drain'): only then can the
          // producer refill the buffer. Backpressure: no next chunk until the stream drains.
          const ok = stream.write(c.bytes, (err) => {
            if (!err) c.release?.();
          });
          if (!ok) await Promise.race([once(stream, 'drain'), done]);
        }
        stream.end();
        await done;
      } catch (e) {
        // The rows could not all be read (or the server failed): CopyFail rolls the COPY back.
        if (!streamError && !stream.destroyed) stream.destroy(e as Error);
        await done.catch(() => undefined);
        throw failure(streamError ?? e);
      }
    },
    escapeIdentifier: (name) => client.escapeIdentifier(name),
    close,
  };
}

/**
 * The one place where a server session's faults get their kind: a lost or unanswering
 * connection becomes a TransientError wherever it surfaces (query, COPY stream, merge,
 * read-back), a statement timeout a clear OutflowError. Anything else stays the driver's
 * error, so callers can still tell row-level data errors (class 22/23) apart.
 */
function sessionError(e: unknown, label: string, statementTimeoutMs: number | undefined): unknown {
  if (e instanceof OutflowError) return e;
  const err = e as PgErrorLike;
  if (err?.code === '57014' && /statement timeout/i.test(err.message ?? '')) {
    return new OutflowError(`${label}: a statement ran longer than timeouts.statement (${statementTimeoutMs} ms) and Postgres cancelled it`, { cause: e });
  }
  if (/Query read timeout/i.test(err?.message ?? '')) {
    return new TransientError(
      `${label}: Postgres did not answer within ${(statementTimeoutMs ?? 0) + CLIENT_GRACE_MS} ms (timeouts.statement plus ${CLIENT_GRACE_MS} ms); the connection is treated as lost`,
      { cause: e },
    );
  }
  if (isTransientPgError(e)) return new TransientError(`${label}: connection lost: ${describePgError(e)}`, { cause: e });
  return e;
}

/** Largest COPY payload handed to PGlite at once; bounds memory on the embedded path. */
const PGLITE_COPY_BYTES = 8 * 1024 * 1024;

export async function connectEmbedded(dataDir: string): Promise<PgSession> {
  const { PGlite } = await import('@electric-sql/pglite');
  const db: PGlite = await PGlite.create(dataDir, preparePgliteDataDir(dataDir));
  await db.query(`SET TimeZone = 'UTC'`);
  return {
    async query<T>(sql: string, params?: unknown[]) {
      const r = await db.query<T>(sql, params);
      return { rows: r.rows, rowCount: r.affectedRows ?? 0 };
    },
    async copyFrom(sql, chunks) {
      // PGlite has no COPY FROM STDIN stream: it reads COPY input from a Blob mounted at
      // /dev/blob. So the statement's STDIN becomes '/dev/blob' and rows go in as a series
      // of bounded COPY statements, each ending on a row boundary (rowAlignedPieces).
      const blobSql = sql.replace(/FROM STDIN/i, `FROM '/dev/blob'`);
      // The series must be as atomic as the one COPY it stands for: the destination's row
      // isolation re-sends every row from the failed call's first one, so a piece committed
      // before a later piece failed would be staged twice (and the merge then refuses the
      // key: "ON CONFLICT DO UPDATE command cannot affect row a second time").
      const own = !db.isInTransaction();
      await db.exec(own ? 'BEGIN' : 'SAVEPOINT outflow_copy');
      try {
        let linesBefore = 0;
        // The pieces are kept until their COPY statement ran, so chunks are never released here.
        for await (const piece of rowAlignedPieces(chunks, PGLITE_COPY_BYTES)) {
          try {
            await db.query(blobSql, [], { blob: new Blob(piece.parts as unknown as BlobPart[]) });
          } catch (e) {
            // Line numbers in COPY errors count from this piece; make them count from the start.
            (e as { outflowLineOffset?: number }).outflowLineOffset = linesBefore;
            throw e;
          }
          linesBefore += piece.lines;
        }
        await db.exec(own ? 'COMMIT' : 'RELEASE SAVEPOINT outflow_copy');
      } catch (e) {
        await db.exec(own ? 'ROLLBACK' : 'ROLLBACK TO SAVEPOINT outflow_copy; RELEASE SAVEPOINT outflow_copy').catch(() => undefined);
        throw e;
      }
    },
    escapeIdentifier: (name) => pg.escapeIdentifier(name),
    async close() {
      await db.close();
    },
  };
}

