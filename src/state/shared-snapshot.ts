import { dirname } from 'node:path';
import { copyFileSync, createReadStream, existsSync, mkdirSync, openSync, closeSync, readFileSync, renameSync, rmSync, writeSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { redact } from '../config/redact.js';
import { StateAccessError, TransientError } from '../errors.js';
import { committedSnapshotFile, snapshotFile } from '../diff/snapshot-store.js';
import { connectStateDatabase } from './state-database.js';

const q = pg.escapeIdentifier;

/** Bytes per stored piece: one piece is the most a push or a pull holds in memory. */
const PIECE_BYTES = 8 << 20;

/**
 * The local diff's snapshot, shared through the state database (state.url): after each
 * commit the run's published snapshot file (a checkpointed DuckDB file) is stored there in
 * pieces, and a run that finds a newer version there than its own state folder holds
 * fetches it first. So runs of one pipeline on several machines (serve here, a cron job
 * there) diff against the same snapshot; the run lock, in the same database, keeps them
 * from overlapping. The state folder stays a cache.
 *
 * What is shared is the committed snapshot only: a run that dies between its delivery and
 * its snapshot is finished exactly-once by the next run on the same machine (the pending
 * delivery sits in its local file); on another machine its delta is sent again.
 */
export interface SharedSnapshotPlace {
  /** The state URL (its `?schema=` names the schema, default outflow). */
  url: string;
  stateDir: string;
  pipeline: string;
}

/** A session on the state database (see state-database.ts); a failure to reach it may pass: transient. */
async function connect(place: SharedSnapshotPlace): Promise<{ client: pg.Client; schema: string }> {
  try {
    return await connectStateDatabase(place.url);
  } catch (e) {
    // A missing privilege is said as it is (what to grant); not reaching the database may pass.
    if (e instanceof StateAccessError) throw e;
    throw new TransientError(`cannot reach the state database for the shared snapshot: ${redact((e as Error).message)}`, { cause: e });
  }
}

/** The version the state folder holds, as last pulled or pushed (0: none). */
function localVersion(s: SharedSnapshotPlace): number {
  const f = `${snapshotFile(s.stateDir, s.pipeline)}.shared-version`;
  if (!existsSync(f) || !existsSync(snapshotFile(s.stateDir, s.pipeline))) return 0;
  return Number(readFileSync(f, 'utf8').trim()) || 0;
}

function setLocalVersion(s: SharedSnapshotPlace, version: number): void {
  writeFileSync(`${snapshotFile(s.stateDir, s.pipeline)}.shared-version`, `${version}\n`);
}

/**
 * Before a run (under its lock): fetches the shared snapshot when it is newer than the
 * state folder's, piece by piece into a temp file renamed over the snapshot. Returns the
 * version fetched, or undefined when the local one is current.
 */
export async function pullSharedSnapshot(s: SharedSnapshotPlace): Promise<number | undefined> {
  const { client, schema } = await connect(s);
  try {
    const top = await client.query<{ v: string | null }>(`SELECT max(version)::text AS v FROM ${q(schema)}.snapshots WHERE pipeline = $1`, [s.pipeline]);
    const version = Number(top.rows[0].v ?? 0);
    if (version === 0 || version <= localVersion(s)) return undefined;
    const live = snapshotFile(s.stateDir, s.pipeline);
    mkdirSync(dirname(live), { recursive: true });
    const partial = `${live}.${process.pid}.pull`;
    const fd = openSync(partial, 'w');
    try {
      for (let piece = 0; ; piece++) {
        const r = await client.query<{ data: Buffer }>(`SELECT data FROM ${q(schema)}.snapshots WHERE pipeline = $1 AND version = $2 AND piece = $3`, [
          s.pipeline,
          version,
          piece,
        ]);
        if (r.rows.length === 0) break;
        writeSync(fd, r.rows[0].data);
      }
    } finally {
      closeSync(fd);
    }
    // The fetched file is checkpointed whole: the old write-ahead log must not be replayed onto it.
    rmSync(`${live}.wal`, { force: true });
    renameSync(partial, live);
    // Readers (preview) open the published copy: it is this version now too.
    copyFileSync(live, `${committedSnapshotFile(s.stateDir, s.pipeline)}.${process.pid}.tmp`);
    renameSync(`${committedSnapshotFile(s.stateDir, s.pipeline)}.${process.pid}.tmp`, committedSnapshotFile(s.stateDir, s.pipeline));
    setLocalVersion(s, version);
    return version;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * After a commit was published (see publishSnapshot): stores the published file as
 * `version`, in pieces, in one transaction that also drops older versions.
 */
export async function pushSharedSnapshot(s: SharedSnapshotPlace, version: number): Promise<void> {
  const { client, schema } = await connect(s);
  try {
    await client.query('BEGIN');
    await client.query(`DELETE FROM ${q(schema)}.snapshots WHERE pipeline = $1 AND version >= $2`, [s.pipeline, version]);
    let piece = 0;
    for await (const chunk of createReadStream(committedSnapshotFile(s.stateDir, s.pipeline), { highWaterMark: PIECE_BYTES })) {
      await client.query(`INSERT INTO ${q(schema)}.snapshots (pipeline, version, piece, data) VALUES ($1, $2, $3, $4)`, [s.pipeline, version, piece++, chunk]);
    }
    await client.query(`DELETE FROM ${q(schema)}.snapshots WHERE pipeline = $1 AND version < $2`, [s.pipeline, version]);
    await client.query('COMMIT');
    setLocalVersion(s, version);
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw new TransientError(`cannot store the snapshot in the state database: ${redact((e as Error).message)}`, { cause: e });
  } finally {
    await client.end().catch(() => undefined);
  }
}
