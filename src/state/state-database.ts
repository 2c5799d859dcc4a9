import pg from 'pg';
import { redact, registerUrlSecrets } from '../config/redact.js';
import { ConnectionError, StateAccessError } from '../errors.js';

/**
 * The state database (`state.url`): what its URL means, and the one place its schema and
 * tables are made. Run history (postgres-history.ts), the local diff's shared snapshots
 * (shared-snapshot.ts) and the workers' partition locks (src/workers/) all keep their
 * tables in the one schema outflow owns there; pg-boss keeps its own beside it.
 */

/** The schema outflow owns in the state database, unless the URL says `?schema=`. */
export const DEFAULT_STATE_SCHEMA = 'outflow';
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const INSUFFICIENT_PRIVILEGE = '42501';

/** Splits outflow's own `schema` parameter off the URL; the rest goes to the driver as is. */
export function parseStateUrl(url: string): { connection: pg.ClientConfig; schema: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConnectionError(`state url: expected a postgres:// URL, got ${JSON.stringify(redact(url))}`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ConnectionError(`state url: expected a postgres:// URL, got ${parsed.protocol}// (${redact(url)})`);
  }
  const schema = parsed.searchParams.get('schema') ?? DEFAULT_STATE_SCHEMA;
  if (!SCHEMA_NAME.test(schema)) {
    throw new ConnectionError(`state url: schema: expected a plain schema name (letters, digits and _, not starting with a digit), got ${JSON.stringify(schema)}`);
  }
  parsed.searchParams.delete('schema');
  const connection: pg.ClientConfig = { connectionString: parsed.toString(), application_name: 'outflow' };
  // The user, for privilege messages; the driver reads it from the URL itself.
  if (parsed.username) connection.user = decodeURIComponent(parsed.username);
  return { connection, schema };
}

/** host:port/database of a connection, never its password. */
export function describeConnection(c: pg.ClientConfig): string {
  try {
    const u = new URL(c.connectionString!);
    return `${u.host}${u.pathname}`;
  } catch {
    return 'the state database';
  }
}

export function cannotConnect(c: pg.ClientConfig, e: unknown): ConnectionError {
  return new ConnectionError(`state database: cannot connect to ${describeConnection(c)}: ${redact((e as Error).message)}`, { cause: e });
}

/** outflow's tables in its state schema, created together (see ensureStateTables). */
const TABLES = ['runs', 'rejected_rows', 'changes', 'locks', 'snapshots', 'partition_diffs'];

function tablesDdl(schema: string): string {
  const t = (name: string) => `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)}`;
  return `
    CREATE TABLE IF NOT EXISTS ${t('runs')} (
      id bigserial PRIMARY KEY,
      pipeline text NOT NULL,
      number integer NOT NULL,
      status text NOT NULL,
      trigger text NOT NULL,
      mode text NOT NULL,
      sync_kind text,
      full_reason text,
      started_at timestamptz NOT NULL,
      finished_at timestamptz,
      duration_ms bigint,
      counts jsonb NOT NULL,
      stages jsonb NOT NULL,
      error text,
      pid integer,
      host text,
      UNIQUE (pipeline, number)
    );
    CREATE TABLE IF NOT EXISTS ${t('rejected_rows')} (
      id bigserial PRIMARY KEY,
      run_id bigint NOT NULL,
      pipeline text NOT NULL,
      key text NOT NULL,
      column_name text,
      reason text NOT NULL
    );
    CREATE INDEX IF NOT EXISTS rejected_rows_by_run ON ${t('rejected_rows')} (run_id, id);
    CREATE TABLE IF NOT EXISTS ${t('changes')} (
      id bigserial PRIMARY KEY,
      run_id bigint NOT NULL,
      op text NOT NULL,
      key text NOT NULL,
      column_name text,
      reason text
    );
    CREATE INDEX IF NOT EXISTS changes_by_run ON ${t('changes')} (run_id, id);
    CREATE TABLE IF NOT EXISTS ${t('locks')} (
      pipeline text PRIMARY KEY,
      run_id bigint,
      pid integer NOT NULL,
      host text NOT NULL,
      acquired_at timestamptz NOT NULL
    );
    CREATE TABLE IF NOT EXISTS ${t('snapshots')} (
      pipeline text NOT NULL,
      version bigint NOT NULL,
      piece integer NOT NULL,
      data bytea NOT NULL,
      PRIMARY KEY (pipeline, version, piece)
    );
    CREATE TABLE IF NOT EXISTS ${t('partition_diffs')} (
      pipeline text PRIMARY KEY,
      diff_id bigint NOT NULL,
      run_id bigint NOT NULL,
      started_at timestamptz NOT NULL DEFAULT now()
    );`;
}

/** Databases and schemas whose tables this process has created or found. */
const isReady = new Set<string>();

/**
 * Makes the schema and every table outflow keeps there, once per process and database.
 * When they all exist nothing is run: DDL needs CREATE on the schema even with IF NOT
 * EXISTS, and a role that only reads and writes state (a reporting machine's) has none.
 */
export async function ensureStateTables(client: pg.ClientBase, schema: string, connection: pg.ClientConfig): Promise<void> {
  const ready = `${connection.connectionString} ${schema}`;
  if (isReady.has(ready)) return;
  const existing = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1 AND tablename = ANY($2)', [schema, TABLES]);
  if (existing.rows[0].n === TABLES.length) {
    isReady.add(ready);
    return;
  }
  try {
    // Two processes opening a fresh database at once would race on CREATE … IF NOT EXISTS.
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`outflow:${schema}:tables`]);
    const found = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (found.rowCount === 0) await client.query(`CREATE SCHEMA ${pg.escapeIdentifier(schema)}`);
    await client.query(tablesDdl(schema));
    await client.query('COMMIT');
    isReady.add(ready);
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw accessError(e, schema, connection) ?? e;
  }
}

/** A missing privilege, said in terms of what to grant. */
function accessError(e: unknown, schema: string, connection: pg.ClientConfig): StateAccessError | undefined {
  if ((e as { code?: string }).code !== INSUFFICIENT_PRIVILEGE) return undefined;
  const who = connection.user ?? 'the state user';
  const message = redact((e as Error).message);
  const s = pg.escapeIdentifier(schema);
  if (/for database/.test(message)) {
    return new StateAccessError(
      `state database: outflow keeps its state in schema "${schema}", which does not exist, and ${who} may not create it (${message}); ` +
        `GRANT CREATE ON DATABASE to ${who}, or create the schema and GRANT USAGE, CREATE ON SCHEMA ${s} TO ${who}`,
      { cause: e },
    );
  }
  return new StateAccessError(
    `state database: outflow keeps its state in schema "${schema}", and ${who} lacks a privilege there (${message}); GRANT USAGE, CREATE ON SCHEMA ${s} TO ${who}`,
    { cause: e },
  );
}

/**
 * One session of its own on the state database, its tables in place (advisory locks belong
 * to a session; a snapshot is stored within one transaction). The caller ends it.
 */
export async function connectStateDatabase(url: string): Promise<{ client: pg.Client; schema: string }> {
  registerUrlSecrets(url);
  const { connection, schema } = parseStateUrl(url);
  const client = new pg.Client(connection);
  // A dropped session surfaces on the next query.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => undefined);
    throw cannotConnect(connection, e);
  }
  try {
    await ensureStateTables(client, schema, connection);
  } catch (e) {
    await client.end().catch(() => undefined);
    throw e;
  }
  return { client, schema };
}
