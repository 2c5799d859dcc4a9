import { copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quotedIdentifier, quotedString, type DuckDBConnection } from '@duckdb/node-api';
import type { Column } from '../types/logical-type.js';
import { duckdbTypeFor } from '../types/duckdb-types.js';

/** Alias under which the pipeline's snapshot file is attached to the workspace. */
export const SNAP = 'outflow_snap';

export interface SnapshotMeta {
  fingerprint?: string;
  cursor?: string;
  rows: number;
  summary?: SnapshotSummary;
  /** DuckDB's automatic memory limit the last committed run ended with (see duckdb-memory.ts). */
  memoryLimitMb?: number;
  /** Commits so far (0: none): a delivery names the version it produces (DeliveryIdentity.snapshotVersion). */
  version: number;
}

/**
 * Row count, exact sum and XOR of the row hashes in the snapshot, kept in its meta table at
 * every commit. A model whose own count and aggregates are equal holds exactly the rows
 * delivered (up to a 64-bit hash collision, the same bound the per-row comparison has), so
 * a run over an unchanged model stops after hashing it, without joining the snapshot.
 */
export interface SnapshotSummary {
  rows: number;
  hashSum: string;
  hashXor: string;
}

/**
 * The snapshot of what was last delivered: the primary key and a hash of each row, in a
 * DuckDB file per pipeline (`<state>/snapshots/<pipeline>.duckdb`), attached to the
 * workspace so the diff is one columnar join. DuckDB lets one process write a file at a
 * time, which also keeps two runs of one pipeline from interleaving their snapshots.
 */
export async function attachSnapshot(connection: DuckDBConnection, stateDir: string, pipeline: string, file = snapshotFile(stateDir, pipeline)): Promise<void> {
  mkdirSync(join(stateDir, 'snapshots'), { recursive: true });
  // READ_WRITE explicitly: a source opened read_only (a warehouse outflow must not write
  // to) would otherwise attach the snapshot read-only too, and a first run cannot create it.
  await connection.run(`ATTACH ${quotedString(file)} AS ${SNAP} (READ_WRITE)`);
  await connection.run(`CREATE TABLE IF NOT EXISTS ${SNAP}.meta (fingerprint VARCHAR, cursor VARCHAR, updated_at TIMESTAMPTZ)`);
  // Snapshots written before the summary existed gain its columns (NULL: no fast path until the next commit).
  for (const col of ['row_count BIGINT', 'hash_sum VARCHAR', 'hash_xor VARCHAR', 'memory_limit_mb BIGINT', 'version BIGINT']) {
    await connection.run(`ALTER TABLE ${SNAP}.meta ADD COLUMN IF NOT EXISTS ${col}`);
  }
}

/** The pipeline's snapshot, which only a run writes (under the run lock). */
export function snapshotFile(stateDir: string, pipeline: string): string {
  return join(stateDir, 'snapshots', `${pipeline}.duckdb`);
}

/** A copy of the last committed snapshot, replaced whole (rename) after each commit: what readers other than the run open. */
export function committedSnapshotFile(stateDir: string, pipeline: string): string {
  return join(stateDir, 'snapshots', `${pipeline}.committed.duckdb`);
}

/**
 * Publishes the snapshot just committed for readers (preview): checkpointed, so the file
 * alone holds it, then copied and renamed over the previous copy. A reader therefore opens
 * either the previous or the new committed snapshot, never one half-written, and never the
 * file the run holds locked (DuckDB lets one process write a file, and a second attach of
 * it in the same process — serve — is refused).
 */
export async function publishSnapshot(connection: DuckDBConnection, stateDir: string, pipeline: string): Promise<void> {
  await connection.run(`CHECKPOINT ${SNAP}`);
  const published = committedSnapshotFile(stateDir, pipeline);
  const partial = `${published}.${process.pid}.tmp`;
  copyFileSync(snapshotFile(stateDir, pipeline), partial);
  renameSync(partial, published);
}

/**
 * A private copy of the last committed snapshot for a dry run, in a temp folder, so a run
 * that holds the snapshot (in this process or another) and a preview never meet on a file.
 * Before a first commit has been published there is nothing to copy: the preview then sees
 * no snapshot (an older state folder's live file is copied instead, with its WAL).
 */
export function copySnapshotForReading(stateDir: string, pipeline: string): { file: string; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'outflow-snapshot-'));
  const file = join(dir, `${pipeline}.duckdb`);
  const published = committedSnapshotFile(stateDir, pipeline);
  const live = snapshotFile(stateDir, pipeline);
  if (existsSync(published)) copyFileSync(published, file);
  else if (existsSync(live)) {
    copyFileSync(live, file);
    if (existsSync(`${live}.wal`)) copyFileSync(`${live}.wal`, `${file}.wal`);
  }
  return { file, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function detachSnapshot(connection: DuckDBConnection): Promise<void> {
  await connection.run(`DETACH DATABASE IF EXISTS ${SNAP}`).catch(() => undefined);
}

export async function readSnapshotMeta(connection: DuckDBConnection): Promise<SnapshotMeta> {
  const meta = (
    await connection.runAndReadAll(`SELECT fingerprint, cursor, row_count, hash_sum, hash_xor, memory_limit_mb, version FROM ${SNAP}.meta LIMIT 1`)
  ).getRowObjects()[0];
  const hasTable = (
    await connection.runAndReadAll(
      `SELECT count(*) AS n FROM duckdb_tables() WHERE database_name = ${quotedString(SNAP)} AND table_name = 'snapshot'`,
    )
  ).getRowObjects()[0];
  let rows = 0;
  if (Number(hasTable.n) > 0) {
    rows = Number((await connection.runAndReadAll(`SELECT count(*) AS n FROM ${SNAP}.snapshot`)).getRowObjects()[0].n);
  }
  const hasSummary = meta?.row_count != null && meta.hash_sum != null && meta.hash_xor != null && Number(hasTable.n) > 0;
  return {
    fingerprint: meta?.fingerprint == null ? undefined : String(meta.fingerprint),
    cursor: meta?.cursor == null ? undefined : String(meta.cursor),
    rows: Number(hasTable.n) > 0 ? rows : 0,
    summary: hasSummary ? { rows: Number(meta.row_count), hashSum: String(meta.hash_sum), hashXor: String(meta.hash_xor) } : undefined,
    memoryLimitMb: meta?.memory_limit_mb == null ? undefined : Number(meta.memory_limit_mb),
    version: meta?.version == null ? 0 : Number(meta.version),
  };
}

/** An empty snapshot table shaped for these key columns (used on a full sync). */
export async function ensureSnapshotTable(connection: DuckDBConnection, keys: Column[]): Promise<void> {
  await connection.run(
    `CREATE TABLE IF NOT EXISTS ${SNAP}.snapshot (${keys.map((k) => `${quotedIdentifier(k.name)} ${duckdbTypeFor(k.type)}`).join(', ')}, _h UBIGINT)`,
  );
}

export interface SnapshotCommit {
  isFull: boolean;
  keys: string[];
  /** Also forget the keys in _outflow_removed (mirror deleted them). */
  forgetRemoved: boolean;
  /**
   * Also forget the keys in _outflow_gone (they left the model; upsert and update). Should
   * one come back, it is sent again, which an upsert makes harmless, and the snapshot keeps
   * matching the model so that unchanged runs take the fast path.
   */
  forgetGone?: boolean;
  fingerprint: string;
  cursor?: string;
  /** The automatic DuckDB memory limit this run ended with; undefined when the source sets one. */
  memoryLimitMb?: number;
  keyColumns: Column[];
  /** The version this commit writes (the stored one + 1). */
  version: number;
  /**
   * Every sendable model row was delivered (a full sync loaded straight into the target):
   * keys and hashes come from _outflow_mh, and _outflow_delta (never built then) is not read.
   */
  isWholeModelDelivered?: boolean;
}

/**
 * Records delivered rows: every delta row the destination committed (rejected rows are in
 * _outflow_rejected and left out, so the next run sends them again). One DuckDB transaction.
 *
 * An incremental commit writes the next snapshot as a new table (the old rows minus the
 * keys delivered or forgotten, plus the delivered rows) and swaps it in. DELETE on the
 * snapshot table needs DuckDB memory that grows with the table (measured: 1% of a 5M-row
 * snapshot cannot be deleted within 48MB, of a 20M-row one within 64MB); the rewrite
 * streams, holding only the delivered keys, and takes ~0.15 s per 5M rows.
 */
export async function commitSnapshot(connection: DuckDBConnection, c: SnapshotCommit): Promise<void> {
  const keyList = c.keys.map(quotedIdentifier).join(', ');
  const match = (a: string, b: string) => c.keys.map((k) => `${a}.${quotedIdentifier(k)} = ${b}.${quotedIdentifier(k)}`).join(' AND ');
  const delivered = c.isWholeModelDelivered
    ? `SELECT ${keyList}, _h FROM _outflow_mh WHERE _bad IS NULL`
    : `SELECT ${keyList}, _h FROM _outflow_delta WHERE _rn NOT IN (SELECT _rn FROM _outflow_rejected)`;
  const replaced = [
    `SELECT ${keyList} FROM (${delivered}) AS d`,
    // A delete the destination refused leaves the key in the snapshot, so the next run tries it again.
    c.forgetRemoved ? `SELECT ${keyList} FROM _outflow_removed WHERE _rn NOT IN (SELECT _rn FROM _outflow_rejected_removed)` : undefined,
    c.forgetGone ? `SELECT ${keyList} FROM _outflow_gone` : undefined,
  ]
    .filter((x) => x !== undefined)
    .join(' UNION ALL ');
  await connection.run('BEGIN TRANSACTION');
  try {
    if (c.isFull) {
      await connection.run(`DROP TABLE IF EXISTS ${SNAP}.snapshot`);
      await ensureSnapshotTable(connection, c.keyColumns);
      await connection.run(`INSERT INTO ${SNAP}.snapshot (${keyList}, _h) ${delivered}`);
    } else {
      const n = (await connection.runAndReadAll(`SELECT count(*) AS n FROM (${replaced}) AS r`)).getRowObjects()[0].n;
      if (Number(n) > 0) {
        await connection.run(`DROP TABLE IF EXISTS ${SNAP}.snapshot_next`);
        await connection.run(
          `CREATE TABLE ${SNAP}.snapshot_next AS
             SELECT s.* FROM ${SNAP}.snapshot AS s ANTI JOIN (${replaced}) AS r ON ${match('s', 'r')}
             UNION ALL SELECT ${keyList}, _h FROM (${delivered}) AS d`,
        );
        await connection.run(`DROP TABLE ${SNAP}.snapshot`);
        await connection.run(`ALTER TABLE ${SNAP}.snapshot_next RENAME TO snapshot`);
      }
    }
    // This run's refused keys replace the last run's: the next run tells a retry from a new row by them.
    await connection.run(`CREATE OR REPLACE TABLE ${SNAP}.rejected AS ${rejectedKeysSql(c.keys, !!c.isWholeModelDelivered)}`);
    await connection.run(`DELETE FROM ${SNAP}.meta`);
    // The delivery this commit records is no longer pending.
    for (const t of PENDING_TABLES) await connection.run(`DROP TABLE IF EXISTS ${SNAP}.${t}`);
    await connection.run(
      `INSERT INTO ${SNAP}.meta (fingerprint, cursor, updated_at, row_count, hash_sum, hash_xor, memory_limit_mb, version)
         SELECT $1, $2, now(), count(*), CAST(coalesce(sum(_h::HUGEINT), 0) AS VARCHAR), CAST(coalesce(bit_xor(_h), 0) AS VARCHAR), $3, $4
           FROM ${SNAP}.snapshot`,
      [c.fingerprint, c.cursor ?? null, c.memoryLimitMb ?? null, c.version],
    );
    await connection.run('COMMIT');
  } catch (e) {
    await connection.run('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/**
 * Keys of this run's refused rows: those the destination rejected (numbered in
 * _outflow_rejected) and those refused before sending (_bad in _outflow_d). When the whole
 * model was loaded directly, nothing was rejected by the destination.
 */
function rejectedKeysSql(keys: string[], isWholeModelDelivered: boolean): string {
  const keyList = keys.map(quotedIdentifier).join(', ');
  const refusedBefore = `SELECT ${keyList} FROM _outflow_d WHERE _bad IS NOT NULL`;
  if (isWholeModelDelivered) return refusedBefore;
  return `${refusedBefore} UNION ALL SELECT ${keyList} FROM _outflow_delta WHERE _rn IN (SELECT _rn FROM _outflow_rejected)`;
}

async function hasRejectedTable(connection: DuckDBConnection): Promise<boolean> {
  const r = await connection.runAndReadAll(
    `SELECT count(*) AS n FROM duckdb_tables() WHERE database_name = ${quotedString(SNAP)} AND table_name = 'rejected'`,
  );
  return Number(r.getRowObjects()[0].n) > 0;
}

function keyMatch(keys: string[], a: string, b: string): string {
  return keys.map((k) => `${a}.${quotedIdentifier(k)} = ${b}.${quotedIdentifier(k)}`).join(' AND ');
}

/**
 * Rows of this run's delta that the last committed run refused: retries, not new rows or
 * changes. Read after the diff, before the snapshot commit replaces the refused keys.
 */
export async function countRetries(connection: DuckDBConnection, keys: string[]): Promise<{ added: number; changed: number }> {
  if (!(await hasRejectedTable(connection))) return { added: 0, changed: 0 };
  const row = (
    await connection.runAndReadAll(
      `SELECT count(*) FILTER (WHERE d._added) AS added, count(*) FILTER (WHERE NOT d._added) AS changed
         FROM _outflow_d AS d SEMI JOIN ${SNAP}.rejected AS r ON ${keyMatch(keys, 'd', 'r')}`,
    )
  ).getRowObjects()[0];
  return { added: Number(row.added), changed: Number(row.changed) };
}

/** Rows refused by this run that the last committed run had refused too. */
export async function countStillRejected(connection: DuckDBConnection, keys: string[], isWholeModelDelivered: boolean): Promise<number> {
  if (!(await hasRejectedTable(connection))) return 0;
  const row = (
    await connection.runAndReadAll(
      `SELECT count(*) AS n FROM (${rejectedKeysSql(keys, isWholeModelDelivered)}) AS x SEMI JOIN ${SNAP}.rejected AS r ON ${keyMatch(keys, 'x', 'r')}`,
    )
  ).getRowObjects()[0];
  return Number(row.n);
}

/**
 * What a run is about to deliver, kept in the snapshot file until the snapshot commits, so
 * that a run killed after the destination committed (its delivery is in the destination's
 * ledger) but before the snapshot was saved can be finished by the next run without
 * sending anything again (see reconcileDelivery in the engine). Written after staging,
 * before the merge: the delta's keys and hashes less the rows staging refused, the keys to
 * forget, and the commit's settings. commitSnapshot drops it.
 */
export interface PendingDelivery {
  runId: number;
  commit: Omit<SnapshotCommit, 'isWholeModelDelivered'>;
  /** The cursor to keep when the merge refused rows (they are read again next run). */
  cursorIfRefused?: string;
}

const PENDING_TABLES = ['pending_delta', 'pending_removed', 'pending_gone', 'pending_meta'];

export async function savePendingDelivery(connection: DuckDBConnection, pending: PendingDelivery & { isWholeModelDelivered?: boolean }): Promise<void> {
  const keyList = pending.commit.keys.map(quotedIdentifier).join(', ');
  const delta = pending.isWholeModelDelivered
    ? `SELECT NULL::BIGINT AS _rn, ${keyList}, _h FROM _outflow_mh WHERE _bad IS NULL`
    : `SELECT _rn, ${keyList}, _h FROM _outflow_delta WHERE _rn NOT IN (SELECT _rn FROM _outflow_rejected)`;
  await connection.run('BEGIN TRANSACTION');
  try {
    await connection.run(`CREATE OR REPLACE TABLE ${SNAP}.pending_delta AS ${delta}`);
    await connection.run(`CREATE OR REPLACE TABLE ${SNAP}.pending_removed AS SELECT _rn, ${keyList} FROM _outflow_removed`);
    await connection.run(`CREATE OR REPLACE TABLE ${SNAP}.pending_gone AS SELECT ${keyList} FROM _outflow_gone`);
    await connection.run(`CREATE OR REPLACE TABLE ${SNAP}.pending_meta (run_id BIGINT, pending_json VARCHAR)`);
    await connection.run(`INSERT INTO ${SNAP}.pending_meta VALUES ($1, $2)`, [
      pending.runId,
      JSON.stringify({ commit: pending.commit, cursorIfRefused: pending.cursorIfRefused }),
    ]);
    await connection.run('COMMIT');
  } catch (e) {
    await connection.run('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

export async function readPendingDelivery(connection: DuckDBConnection): Promise<PendingDelivery | undefined> {
  const exists = (
    await connection.runAndReadAll(`SELECT count(*) AS n FROM duckdb_tables() WHERE database_name = ${quotedString(SNAP)} AND table_name = 'pending_meta'`)
  ).getRows()[0][0];
  if (Number(exists) === 0) return undefined;
  const row = (await connection.runAndReadAll(`SELECT run_id, pending_json FROM ${SNAP}.pending_meta LIMIT 1`)).getRows()[0];
  if (!row) return undefined;
  return { runId: Number(row[0]), ...JSON.parse(String(row[1])) };
}

/**
 * Commits a pending delivery the destination's ledger says landed: the temp tables
 * commitSnapshot reads are rebuilt from the pending tables, less the rows (and deletes) the
 * merge refused, whose row numbers the ledger kept.
 */
export async function commitPendingDelivery(connection: DuckDBConnection, pending: PendingDelivery, refused: { rows: number[]; deletes: number[] }): Promise<void> {
  const list = (ns: number[]) => (ns.length ? ns.map((n) => String(Math.trunc(n))).join(', ') : 'NULL');
  await connection.run(`CREATE OR REPLACE TEMP TABLE _outflow_delta AS SELECT * FROM ${SNAP}.pending_delta`);
  await connection.run(`CREATE OR REPLACE TEMP TABLE _outflow_rejected AS SELECT _rn FROM ${SNAP}.pending_delta WHERE _rn IN (${list(refused.rows)})`);
  await connection.run(`CREATE OR REPLACE TEMP TABLE _outflow_removed AS SELECT * FROM ${SNAP}.pending_removed`);
  await connection.run(`CREATE OR REPLACE TEMP TABLE _outflow_rejected_removed AS SELECT _rn FROM ${SNAP}.pending_removed WHERE _rn IN (${list(refused.deletes)})`);
  await connection.run(`CREATE OR REPLACE TEMP TABLE _outflow_gone AS SELECT * FROM ${SNAP}.pending_gone`);
  // No row of the dead run was refused before sending that is not already in the pending
  // delta's refusals: the refused-keys table commitSnapshot writes reads an empty _outflow_d.
  const keyList = pending.commit.keys.map(quotedIdentifier).join(', ');
  await connection.run(`CREATE OR REPLACE TEMP TABLE _outflow_d AS SELECT ${keyList}, NULL::VARCHAR AS _bad FROM ${SNAP}.pending_delta WHERE false`);
  const isRefused = refused.rows.length + refused.deletes.length > 0;
  await commitSnapshot(connection, { ...pending.commit, cursor: isRefused && pending.commit.cursor !== undefined ? pending.cursorIfRefused : pending.commit.cursor });
  for (const t of ['_outflow_delta', '_outflow_rejected', '_outflow_removed', '_outflow_rejected_removed', '_outflow_gone', '_outflow_d']) await connection.run(`DROP TABLE IF EXISTS ${t}`);
}

/** Forgets a pending delivery the destination never committed (the run died before its COMMIT). */
export async function dropPendingDelivery(connection: DuckDBConnection): Promise<void> {
  for (const t of PENDING_TABLES) await connection.run(`DROP TABLE IF EXISTS ${SNAP}.${t}`);
}
