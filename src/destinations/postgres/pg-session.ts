import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { PGlite } from '@electric-sql/pglite';
import type { PostgresDestinationConfig } from './postgres-config.js';

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
  /** Runs `COPY … FROM STDIN` feeding it the chunks, honouring backpressure. */
  copyFrom(sql: string, chunks: AsyncIterable<Buffer>): Promise<void>;
  escapeIdentifier(name: string): string;
  close(): Promise<void>;
}

export interface SessionOptions {
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
}

// Values outflow reads back through this session are cast to text in SQL, so the driver's
// own parsing (which turns int8 into strings and timestamps into millisecond Dates) never runs.
export async function connectServer(config: PostgresDestinationConfig, opts: SessionOptions = {}): Promise<PgSession> {
  const client = new pg.Client({
    connectionString: config.url,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
    statement_timeout: opts.statementTimeoutMs,
    ssl: sslOptions(config),
    application_name: 'outflow',
  });
  // An idle-connection error (server restart) must not crash the process; the next query fails instead.
  client.on('error', () => undefined);
  await client.connect();
  await client.query(`SET TimeZone = 'UTC'`);
  return {
    async query<T>(sql: string, params?: unknown[]) {
      const r = await client.query(sql, params as unknown[]);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
    },
    async copyFrom(sql, chunks) {
      const stream = client.query(copyFrom(sql));
      // pipeline() pauses the reader whenever the socket's write() returns false.
      await pipeline(Readable.from(chunks, { objectMode: false }), stream);
    },
    escapeIdentifier: (name) => client.escapeIdentifier(name),
    async close() {
      await client.end().catch(() => undefined);
    },
  };
}

function sslOptions(config: PostgresDestinationConfig): pg.ClientConfig['ssl'] {
  const mode = config.ssl?.mode ?? undefined;
  if (!mode || mode === 'disable') return undefined;
  const ca = config.ssl?.ca_file ? readFileSync(config.ssl.ca_file, 'utf8') : undefined;
  if (mode === 'require') return { rejectUnauthorized: false };
  if (mode === 'verify-ca') return { ca, rejectUnauthorized: true, checkServerIdentity: () => undefined };
  return { ca, rejectUnauthorized: true };
}

/** Largest COPY payload handed to PGlite at once; bounds memory on the embedded path. */
const PGLITE_COPY_BYTES = 8 * 1024 * 1024;

export async function connectEmbedded(dataDir: string): Promise<PgSession> {
  const { PGlite } = await import('@electric-sql/pglite');
  const db: PGlite = await PGlite.create(dataDir);
  await db.query(`SET TimeZone = 'UTC'`);
  return {
    async query<T>(sql: string, params?: unknown[]) {
      const r = await db.query<T>(sql, params);
      return { rows: r.rows, rowCount: r.affectedRows ?? 0 };
    },
    async copyFrom(sql, chunks) {
      // PGlite has no COPY FROM STDIN stream: it reads COPY input from a Blob mounted at
      // /dev/blob. So the statement's STDIN becomes '/dev/blob' and rows go in as a series
      // of bounded COPY statements, all inside the caller's transaction or statement scope.
      const blobSql = sql.replace(/FROM STDIN/i, `FROM '/dev/blob'`);
      let parts: Buffer[] = [];
      let size = 0;
      let linesBefore = 0;
      const flush = async () => {
        if (size === 0) return;
        try {
          await db.query(blobSql, [], { blob: new Blob(parts as unknown as BlobPart[]) });
        } catch (e) {
          // Line numbers in COPY errors count from this piece; make them count from the start.
          (e as { outflowLineOffset?: number }).outflowLineOffset = linesBefore;
          throw e;
        }
        for (const p of parts) linesBefore += countNewlines(p);
        parts = [];
        size = 0;
      };
      for await (const chunk of chunks) {
        parts.push(chunk);
        size += chunk.length;
        if (size >= PGLITE_COPY_BYTES) await flush();
      }
      await flush();
    },
    escapeIdentifier: (name) => pg.escapeIdentifier(name),
    async close() {
      await db.close();
    },
  };
}

function countNewlines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  return n;
}
