import type { Batch, Column, LogicalType, Value } from '../../types/logical-type.js';
import { resolve } from 'node:path';
import type {
  ActionNames,
  BulkDestination,
  DelimitedTextEncoding,
  DestinationCapabilities,
  MergePlan,
  MergeResult,
  DeliveryIdentity,
  DeliveryRecord,
  PlannedChanges,
  RejectedRow,
  RowStream,
  StageResult,
  TargetColumn,
  TargetTable,
} from '../destination.js';
import { SYNC_MODES } from '../../config/pipeline-schema.js';
import { OutflowError } from '../../errors.js';
import { connectEmbedded, connectServer, type PgSession } from './pg-session.js';
import type { PgliteDestinationConfig, PostgresDestinationConfig } from './postgres-config.js';
import type { DestinationContext } from '../create-destination.js';
import { guardMassDelete } from '../mass-delete.js';
import { introspectTable, qualified, resolveTableName, type TableName } from './postgres-introspector.js';
import { logicalFromPgTypeName, pgColumnType, pgIncompatibility } from './postgres-column-types.js';
import { columnOf, describePgError, isRowLevelPgError, wrapPgError } from './pg-errors.js';
import type { PgErrorLike } from '../../connections/postgres-faults.js';
import { countWouldInsert, countWouldUpdate, deleteKeysInRange, deleteWhere, mergeStatement, RN, type MergeSql } from './postgres-dialect.js';
import { parsePgText } from '../../types/postgres-text-values.js';
import { pauseForTests } from '../../test-hooks.js';

export interface PostgresDestinationOptions {
  table: string;
  /** Used to name the staging tables, so two pipelines never share one. */
  pipelineName: string;
  label: string;
  /** Dry runs stage into session-local TEMP tables and never touch the target. */
  isDryRun?: boolean;
  /** Schema of outflow's delivery ledger table; the target's schema when unset. */
  ledgerSchema?: string;
}

/**
 * outflow's delivery ledger: the last delivery of each pipeline that committed (see
 * Destination.delivered), one row per pipeline. One ledger table per target table, beside
 * it, so it belongs to the role that writes the target: a table shared by a whole schema (or
 * by every pipeline of one name) would belong to whichever role created it first, and
 * another role syncing into the same schema could not write it.
 */
const LEDGER_PREFIX = '_outflow_ledger_';

/** Identifier length limit of Postgres (NAMEDATALEN - 1). */
const MAX_IDENT = 63;

/** Opens a Postgres server or PGlite data directory (create-destination.ts's registry line). */
export async function openPostgresDestination(config: PostgresDestinationConfig | PgliteDestinationConfig, ctx: DestinationContext): Promise<PostgresDestination> {
  const { label } = ctx;
  try {
    const session =
      config.type === 'pglite'
        ? await connectEmbedded(resolve(ctx.baseDir, config.path))
        : await connectServer(config, { connectTimeoutMs: ctx.timeouts.connect, statementTimeoutMs: ctx.timeouts.statement, label, baseDir: ctx.baseDir });
    return new PostgresDestination(session, { table: config.table, pipelineName: ctx.pipelineName, label, isDryRun: ctx.isDryRun, ledgerSchema: config.ledger_schema });
  } catch (e) {
    throw wrapPgError(`${label}: cannot connect`, e);
  }
}

/** COPY text: booleans t/f, bytea as \x hex, timestamptz with its offset, BC dates as Postgres writes them, array literals. */
export const COPY_TEXT: DelimitedTextEncoding = { format: 'delimited-text', bool: 'tf', bytes: 'pg-hex', timestamptz: 'offset', dates: 'bc-suffix', arrays: 'pg-literal' };

export class PostgresDestination implements BulkDestination {
  readonly kind = 'postgres';
  readonly capabilities: DestinationCapabilities & { shape: 'bulk' } = {
    shape: 'bulk',
    modes: SYNC_MODES,
    transactions: true,
    readBack: true,
    // ON CONFLICT needs a unique index on the key; NOT EXISTS (insert_new) and the key-table delete (mirror) rely on it too.
    uniqueKeyModes: ['insert_new', 'upsert', 'mirror'],
    unstorable: { nulInText: 'text contains a NUL byte, which Postgres cannot store' },
  };
  readonly encoding = COPY_TEXT;
  readonly label: string;
  private table?: TableName;
  private target?: TargetTable;

  constructor(
    private readonly session: PgSession,
    private readonly opts: PostgresDestinationOptions,
  ) {
    this.label = opts.label;
  }

  private async tableName(): Promise<TableName> {
    this.table ??= await resolveTableName(this.session, this.opts.table);
    return this.table;
  }

  private q(name: string): string {
    return this.session.escapeIdentifier(name);
  }

  private helperTable(kind: 'stage' | 'keys'): string {
    const base = `_outflow_${kind}_${this.opts.pipelineName}`.slice(0, MAX_IDENT);
    // TEMP tables live in the session's own schema; real staging sits beside the target.
    return this.opts.isDryRun ? this.q(base) : `${this.q(this.table!.schema)}.${this.q(base)}`;
  }

  async describe(): Promise<TargetTable | undefined> {
    try {
      this.target = await introspectTable(this.session, await this.tableName());
      return this.target;
    } catch (e) {
      throw wrapPgError(`${this.label}: cannot read the table definition`, e);
    }
  }

  incompatibility(from: LogicalType, to: TargetColumn): string | undefined {
    return pgIncompatibility(from, to.type ?? logicalFromPgTypeName(to.typeName), to.typeName);
  }

  async createTable(columns: Column[], primaryKey: string[]): Promise<void> {
    const t = await this.tableName();
    const defs = columns.map((c) => `${this.q(c.name)} ${pgColumnType(c.type)}${primaryKey.includes(c.name) ? ' NOT NULL' : ''}`);
    defs.push(`PRIMARY KEY (${primaryKey.map((k) => this.q(k)).join(', ')})`);
    await this.session.query(`CREATE SCHEMA IF NOT EXISTS ${this.q(t.schema)}`);
    await this.session.query(`CREATE TABLE ${qualified(this.session, t)} (${defs.join(', ')})`);
    await this.describe();
  }

  private async createHelperTable(name: string, columns: string[]): Promise<void> {
    const t = qualified(this.session, await this.tableName());
    const kind = this.opts.isDryRun ? 'TEMP' : 'UNLOGGED';
    await this.session.query(`DROP TABLE IF EXISTS ${name}`);
    // CREATE … AS … WITH NO DATA copies the target's column types (varchar(100) stays
    // varchar(100), so a too-long value fails at COPY) but none of its constraints.
    await this.session.query(
      `CREATE ${kind} TABLE ${name} AS SELECT NULL::bigint AS ${RN}, ${columns.join(', ')} FROM ${t} WITH NO DATA`,
    );
  }

  async stage(columns: Column[], rows: RowStream, opts: { mayLoadDirectly: boolean; delivery?: DeliveryIdentity }): Promise<StageResult> {
    const cols = columns.map((c) => this.q(c.name));
    if (opts.mayLoadDirectly && !this.opts.isDryRun && (await this.loadIntoEmptyTarget(cols, rows, opts.delivery))) {
      return { staged: 0, rejected: [], loadedDirectly: true };
    }
    const staging = this.helperTable('stage');
    await this.createHelperTable(staging, cols);
    // An empty key table with every staged column (so whichever columns form the pipeline's
    // key exist): replace's delete guard reads it; stageKeys replaces it for mirror.
    await this.createHelperTable(this.helperTable('keys'), cols);
    const copySql = `COPY ${staging} (${RN}, ${cols.join(', ')}) FROM STDIN`;
    const rejected: RejectedRow[] = [];
    let staged = 0;
    let next = 1;
    // Rows stream in row-number order, so when COPY stops at line L the bad row is
    // next + L - 1: the rows before it go again, that one is rejected, and COPY resumes after it.
    while (next <= rows.count) {
      try {
        await this.session.copyFrom(copySql, rows.range(next, rows.count, true));
        staged += rows.count - next + 1;
        break;
      } catch (e) {
        const line = copyErrorLine(e);
        if (!isRowLevelPgError(e) || line === undefined) throw wrapPgError(`${this.label}: COPY into staging failed`, e);
        const bad = next + line - 1;
        if (bad > next) {
          await this.session.copyFrom(copySql, rows.range(next, bad - 1, true));
          staged += bad - next;
        }
        rejected.push({ rn: bad, column: columnOf(e as PgErrorLike), reason: describePgError(e) });
        next = bad + 1;
      }
    }
    return { staged, rejected, loadedDirectly: false };
  }

  /**
   * A full sync into an empty table skips staging: COPY straight into the target inside a
   * transaction that first locks the table against writers and checks it is empty. Any
   * failure rolls back to the empty table, and the caller falls back to the staging path.
   */
  private async loadIntoEmptyTarget(cols: string[], rows: RowStream, delivery?: DeliveryIdentity): Promise<boolean> {
    const t = qualified(this.session, await this.tableName());
    if (delivery) await this.ensureLedger();
    await this.session.query('BEGIN');
    try {
      await this.session.query(`LOCK TABLE ${t} IN SHARE ROW EXCLUSIVE MODE`);
      const r = await this.session.query<{ empty: boolean }>(`SELECT NOT EXISTS (SELECT 1 FROM ${t}) AS empty`);
      if (!r.rows[0].empty) {
        await this.session.query('ROLLBACK');
        return false;
      }
      await this.session.copyFrom(`COPY ${t} (${cols.join(', ')}) FROM STDIN`, rows.all(false));
      if (delivery) await this.recordDelivery(delivery, { rows: [], deletes: [] });
      await this.session.query('COMMIT');
      return true;
    } catch (e) {
      await this.session.query('ROLLBACK').catch(() => undefined);
      if (isRowLevelPgError(e)) return false;
      throw wrapPgError(`${this.label}: COPY into the empty target failed`, e);
    }
  }

  async stageKeys(keyColumns: Column[], rows: RowStream): Promise<number> {
    const keyTable = this.helperTable('keys');
    const keys = keyColumns.map((c) => this.q(c.name));
    // Shaped by the pipeline's key, which may be a unique key other than the table's primary key.
    await this.createHelperTable(keyTable, keys);
    let n = 0;
    await this.session.copyFrom(
      `COPY ${keyTable} (${RN}, ${keys.join(', ')}) FROM STDIN`,
      (async function* () {
        for await (const c of rows.all(true)) {
          n += c.rows;
          yield c;
        }
      })(),
    );
    return n;
  }

  private async mergeSql(plan: MergePlan): Promise<MergeSql> {
    const t = await this.tableName();
    const target = this.target ?? (await this.describe());
    const jsonColumns = new Set(
      (target?.columns ?? []).filter((c) => /^json$/i.test(c.typeName)).map((c) => this.q(c.name)),
    );
    return {
      target: qualified(this.session, t),
      staging: this.helperTable('stage'),
      keyTable: this.helperTable('keys'),
      keys: plan.keys.map((k) => this.q(k)),
      columns: plan.columns.map((c) => this.q(c)),
      jsonColumns,
    };
  }

  async merge(plan: MergePlan): Promise<MergeResult> {
    const s = await this.mergeSql(plan);
    const result: MergeResult = { inserted: 0, updated: 0, deleted: 0, unchanged: 0, rejected: [] };
    const range = await this.session.query<{ lo: string | null; hi: string | null; n: string }>(
      `SELECT min(${RN})::text AS lo, max(${RN})::text AS hi, count(*)::text AS n FROM ${s.staging}`,
    );
    const staged = Number(range.rows[0].n);
    if (plan.delivery) await this.ensureLedger();
    await this.session.query('BEGIN');
    try {
      const deletes = plan.mode === 'replace' ? 'all' : plan.deletes;
      if (deletes !== 'none') {
        await this.guardDeletes(s, plan, deletes === 'all' ? 'absent' : deletes);
        if (deletes === 'keys') {
          // Deletes by key can be refused one by one (a foreign key still points at the row).
          result.rejectedDeletes = [];
          await this.deleteIsolating(s, 1, Number.MAX_SAFE_INTEGER, result);
        } else if (deletes === 'absent') {
          // A full mirror sync: the rows to delete are numbered first, so a refused delete is
          // isolated like on the incremental path instead of failing the run.
          await this.deleteAbsentIsolating(s, plan.keys, result);
        } else {
          const del = await this.session.query(`DELETE FROM ${s.target} AS t WHERE ${deleteWhere(deletes, s)}`);
          result.deleted = del.rowCount;
        }
      }
      if (staged > 0) {
        await this.mergeIsolating(plan, mergeStatement(plan.mode, s), Number(range.rows[0].lo), Number(range.rows[0].hi), result);
      }
      if (plan.delivery) {
        await this.recordDelivery(plan.delivery, { rows: result.rejected.map((r) => r.rn), deletes: (result.rejectedDeletes ?? []).map((r) => r.rn) });
      }
      await pauseForTests('merge-commit'); // crash tests: the merge done but not committed
      await this.session.query('COMMIT');
    } catch (e) {
      await this.session.query('ROLLBACK').catch(() => undefined);
      throw e instanceof OutflowError ? e : wrapPgError(`${this.label}: ${plan.mode} failed`, e);
    }
    const merged = staged - result.rejected.length;
    result.unchanged = plan.mode === 'insert' || plan.mode === 'replace' ? 0 : Math.max(0, merged - result.inserted - result.updated);
    return result;
  }

  private async ledgerName(): Promise<string> {
    const t = await this.tableName();
    return `${this.q(this.opts.ledgerSchema ?? t.schema)}.${this.q(`${LEDGER_PREFIX}${t.name}`.slice(0, MAX_IDENT))}`;
  }

  /** Creates the ledger when it is missing (before the transaction, so the merge's own locks stay few). */
  private async ensureLedger(): Promise<void> {
    const ledger = await this.ledgerName();
    if (this.opts.ledgerSchema) await this.session.query(`CREATE SCHEMA IF NOT EXISTS ${this.q(this.opts.ledgerSchema)}`);
    await this.session.query(
      `CREATE TABLE IF NOT EXISTS ${ledger} (pipeline text PRIMARY KEY, run_id bigint NOT NULL, snapshot_version bigint NOT NULL, refused text NOT NULL, committed_at timestamptz NOT NULL DEFAULT now())`,
    );
  }

  /** The ledger row of this delivery, inside the transaction that writes its rows: both commit or neither. */
  private async recordDelivery(d: DeliveryIdentity, refused: DeliveryRecord['refused']): Promise<void> {
    await this.session.query(
      `INSERT INTO ${await this.ledgerName()} (pipeline, run_id, snapshot_version, refused, committed_at) VALUES ($1, $2, $3, $4, now())
       ON CONFLICT (pipeline) DO UPDATE SET run_id = EXCLUDED.run_id, snapshot_version = EXCLUDED.snapshot_version, refused = EXCLUDED.refused, committed_at = EXCLUDED.committed_at`,
      [d.pipeline, d.runId, d.snapshotVersion, JSON.stringify(refused)],
    );
  }

  async delivered(pipeline: string, runId: number): Promise<DeliveryRecord | undefined> {
    const ledger = await this.ledgerName();
    const exists = await this.session.query<{ e: boolean }>('SELECT to_regclass($1) IS NOT NULL AS e', [ledger]);
    if (!exists.rows[0].e) return undefined;
    const r = await this.session.query<{ run_id: string; snapshot_version: string; refused: string; committed_at: string }>(
      `SELECT run_id::text AS run_id, snapshot_version::text AS snapshot_version, refused, committed_at::text AS committed_at FROM ${ledger} WHERE pipeline = $1 AND run_id = $2`,
      [pipeline, runId],
    );
    const row = r.rows[0];
    return row ? { runId: Number(row.run_id), snapshotVersion: Number(row.snapshot_version), committedAt: row.committed_at, refused: JSON.parse(row.refused) } : undefined;
  }

  private async guardDeletes(s: MergeSql, plan: MergePlan, kind: 'keys' | 'absent'): Promise<void> {
    if (plan.maxDeleteRatio === undefined) return;
    const total = Number((await this.session.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${s.target}`)).rows[0].n);
    if (total === 0) return;
    const doomed = Number(
      (await this.session.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${s.target} AS t WHERE ${deleteWhere(kind, s)}`)).rows[0].n,
    );
    guardMassDelete({ label: this.label, mode: plan.mode, doomed, total, maxDeleteRatio: plan.maxDeleteRatio });
  }

  /**
   * Deletes the target rows absent from staging and key table through a numbered list of
   * them (a TEMP table dropped at COMMIT), isolating refused deletes. The engine never
   * numbered these rows, so a refused one carries its key (as the target prints it).
   */
  private async deleteAbsentIsolating(s: MergeSql, keyNames: string[], result: MergeResult): Promise<void> {
    const doomed = this.q('_outflow_doomed');
    await this.session.query(`DROP TABLE IF EXISTS ${doomed}`);
    await this.session.query(
      `CREATE TEMP TABLE ${doomed} ON COMMIT DROP AS SELECT row_number() OVER () AS ${RN}, ${s.keys.map((k) => `t.${k}`).join(', ')} FROM ${s.target} AS t WHERE ${deleteWhere('absent', s)}`,
    );
    result.rejectedDeletes = [];
    await this.deleteIsolating({ ...s, keyTable: doomed }, 1, Number.MAX_SAFE_INTEGER, result);
    if (result.rejectedDeletes.length === 0) return;
    const keys = await this.session.query<Record<string, string>>(
      `SELECT ${RN}::text AS rn, ${s.keys.map((k) => `${k}::text`).join(', ')} FROM ${doomed} WHERE ${RN} = ANY($1::bigint[])`,
      [result.rejectedDeletes.map((r) => r.rn)],
    );
    const byRn = new Map(keys.rows.map((row) => [Number(row.rn), row]));
    for (const r of result.rejectedDeletes) {
      const row = byRn.get(r.rn);
      if (row) r.key = Object.fromEntries(keyNames.map((name, i) => [name, Object.values(row)[i + 1]]));
    }
  }

  /** Deletes the keys in a range of the key table; refused deletes are isolated like merge rows. */
  private async deleteIsolating(s: MergeSql, lo: number, hi: number, result: MergeResult): Promise<void> {
    await this.isolateRows(s.keyTable, lo, hi, {
      apply: async (a, b) => {
        result.deleted += (await this.session.query(deleteKeysInRange(s), [a, b])).rowCount;
      },
      isRowLevel: isRowLevelPgError,
      reject: (rn, e) => result.rejectedDeletes!.push({ rn, column: columnOf(e), reason: `delete refused: ${describePgError(e)}` }),
    });
  }

  /** Runs the merge over a range of staged rows, isolating the rows the target refuses. */
  private async mergeIsolating(plan: MergePlan, sql: string, lo: number, hi: number, result: MergeResult): Promise<void> {
    const staging = (await this.mergeSql(plan)).staging;
    await this.isolateRows(staging, lo, hi, {
      apply: async (a, b) => {
        const r = await this.session.query<{ inserted: number; updated: number }>(sql, [a, b]);
        result.inserted += Number(r.rows[0]?.inserted ?? 0);
        result.updated += Number(r.rows[0]?.updated ?? 0);
      },
      // In insert mode a key the target already has fails the run, as the mode promises.
      isRowLevel: (e) => isRowLevelPgError(e) && !(plan.mode === 'insert' && (e as PgErrorLike).code === '23505'),
      reject: (rn, e) => result.rejected.push({ rn, column: columnOf(e), reason: describePgError(e) }),
    });
  }

  /**
   * Applies a statement to rows lo..hi (by _outflow_rn) of `table` inside a savepoint. A
   * row-level error rolls the savepoint back and splits the range in two, until each
   * refused row stands alone and is reported; other errors end the run.
   */
  private async isolateRows(
    table: string,
    lo: number,
    hi: number,
    step: { apply: (lo: number, hi: number) => Promise<void>; isRowLevel: (e: unknown) => boolean; reject: (rn: number, e: PgErrorLike) => void },
  ): Promise<void> {
    await this.session.query('SAVEPOINT outflow_isolate');
    try {
      await step.apply(lo, hi);
      await this.session.query('RELEASE SAVEPOINT outflow_isolate');
    } catch (e) {
      await this.session.query('ROLLBACK TO SAVEPOINT outflow_isolate');
      await this.session.query('RELEASE SAVEPOINT outflow_isolate');
      if (!step.isRowLevel(e)) throw e;
      const present = await this.session.query<{ lo: string | null; hi: string | null; n: string }>(
        `SELECT min(${RN})::text AS lo, max(${RN})::text AS hi, count(*)::text AS n FROM ${table} WHERE ${RN} BETWEEN $1 AND $2`,
        [lo, hi],
      );
      const n = Number(present.rows[0].n);
      if (n === 0) return;
      const a = Number(present.rows[0].lo);
      const b = Number(present.rows[0].hi);
      if (n === 1) {
        step.reject(a, e as PgErrorLike);
        return;
      }
      const mid = Math.floor((a + b) / 2);
      await this.isolateRows(table, a, mid, step);
      await this.isolateRows(table, mid + 1, b, step);
    }
  }

  async plan(plan: MergePlan): Promise<PlannedChanges> {
    const s = await this.mergeSql(plan);
    const one = async (sql: string) => Number((await this.session.query<{ n: number }>(sql)).rows[0].n);
    const staged = await one(`SELECT count(*)::int AS n FROM ${s.staging}`);
    const targetRows = await one(`SELECT count(*)::int AS n FROM ${s.target}`);
    const deletes = plan.mode === 'replace' ? 'all' : plan.deletes;
    const wouldDelete =
      deletes === 'none' ? 0 : deletes === 'all' ? targetRows : await one(`SELECT count(*)::int AS n FROM ${s.target} AS t WHERE ${deleteWhere(deletes, s)}`);
    switch (plan.mode) {
      case 'insert':
      case 'replace':
        return { wouldInsert: staged, wouldUpdate: 0, wouldDelete, targetRows };
      case 'insert_new':
        return { wouldInsert: await one(countWouldInsert(s)), wouldUpdate: 0, wouldDelete, targetRows };
      case 'update':
        return { wouldInsert: 0, wouldUpdate: await one(countWouldUpdate(s)), wouldDelete, targetRows };
      default:
        return { wouldInsert: await one(countWouldInsert(s)), wouldUpdate: await one(countWouldUpdate(s)), wouldDelete, targetRows };
    }
  }

  async cleanup(): Promise<void> {
    if (!this.table) return;
    for (const kind of ['stage', 'keys'] as const) {
      await this.session.query(`DROP TABLE IF EXISTS ${this.helperTable(kind)}`);
    }
  }

  /** Names for actions such as "truncate the staging table when the run fails", quoted for Postgres. */
  async actionNames(): Promise<ActionNames> {
    const t = await this.tableName();
    return { staging_table: this.helperTable('stage'), target_table: qualified(this.session, t) };
  }

  async countRows(): Promise<number> {
    const t = qualified(this.session, await this.tableName());
    return Number((await this.session.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${t}`)).rows[0].n);
  }

  async *readBack(columns: Column[], batchSize: number): AsyncIterable<Batch> {
    const t = qualified(this.session, await this.tableName());
    // Every value is read as text and parsed by outflow, so int8, numeric and microsecond
    // timestamps arrive exact whatever the driver (pg or PGlite) would have made of them.
    const select = columns.map((c) => `${this.q(c.name)}::text`).join(', ');
    await this.session.query('BEGIN READ ONLY');
    try {
      await this.session.query(`DECLARE outflow_read NO SCROLL CURSOR FOR SELECT ${select} FROM ${t}`);
      for (;;) {
        const r = await this.session.query<Record<string, string | null>>(`FETCH ${Math.max(1, Math.floor(batchSize))} FROM outflow_read`);
        if (r.rows.length === 0) break;
        yield {
          rows: r.rows.map((row) => Object.values(row).map((v, i) => parsePgText(v, columns[i].type) as Value)),
        };
      }
      await this.session.query('COMMIT');
    } catch (e) {
      await this.session.query('ROLLBACK').catch(() => undefined);
      throw wrapPgError(`${this.label}: reading the table back failed`, e);
    }
  }

  async execute(sql: string): Promise<void> {
    await this.session.query(sql);
  }

  /**
   * Postgres parses and analyses a PREPAREd statement without running it, so a table it names
   * that does not exist is found here. Only SELECT/INSERT/UPDATE/DELETE/MERGE/VALUES can be
   * prepared; for other statements (TRUNCATE, DDL) nothing can be told in advance.
   */
  async checkStatement(sql: string): Promise<string | undefined> {
    try {
      await this.session.query(`PREPARE _outflow_check AS ${sql}`);
    } catch (e) {
      const err = e as { code?: string; message?: string };
      // 42P01 undefined_table, 3F000 invalid_schema_name
      return err.code === '42P01' || err.code === '3F000' ? err.message : undefined;
    }
    await this.session.query('DEALLOCATE _outflow_check');
    return undefined;
  }

  async close(): Promise<void> {
    await this.session.close();
  }
}

/** The 1-based line of the COPY data a row-level error is about (`COPY t, line 12, column x`). */
function copyErrorLine(e: unknown): number | undefined {
  const err = e as PgErrorLike & { outflowLineOffset?: number };
  // The COPY context line, not the first "line N": jsonb errors put their own "JSON data, line 1" before it.
  const m = /(?:^|\n)COPY [^\n]*?, line (\d+)/.exec(err.where ?? '') ?? /line (\d+)/.exec(err.where ?? '');
  return m ? Number(m[1]) + (err.outflowLineOffset ?? 0) : undefined;
}
