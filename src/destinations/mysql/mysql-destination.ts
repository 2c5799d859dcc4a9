import type { Batch, Column, LogicalType, Value } from '../../types/logical-type.js';
import type {
  ActionNames,
  BulkDestination,
  DeliveryIdentity,
  DeliveryRecord,
  DestinationCapabilities,
  EncodedChunk,
  MergePlan,
  MergeResult,
  PlannedChanges,
  RejectedRow,
  RowStream,
  StageResult,
  TargetColumn,
} from '../destination.js';
import { SYNC_MODES } from '../../config/pipeline-schema.js';
import { OutflowError, SchemaMismatchError } from '../../errors.js';
import { pauseForTests } from '../../test-hooks.js';
import type { DestinationContext } from '../create-destination.js';
import { guardMassDelete } from '../mass-delete.js';
import type { MysqlDestinationConfig } from './mysql-config.js';
import { connectMysql, type MysqlSession, type Outcome } from './mysql-session.js';
import { introspectTable, qualified, resolveTableName, type MysqlTargetTable, type TableName } from './mysql-introspector.js';
import { logicalFromMysqlColumn, mysqlColumnType, mysqlIncompatibility } from './mysql-column-types.js';
import { LOAD_DATA_TEXT, loadDataSql } from './load-data-sql.js';
import { columnOfMysqlError, describeMysqlError, isDuplicateKeyError, isRowLevelMysqlError, wrapMysqlError } from './mysql-errors.js';
import { countDeletes, countWouldInsert, countWouldUpdate, deleteStatement, mergeSteps, RN, type MergeSql } from './mysql-dialect.js';

export interface MysqlDestinationOptions {
  table: string;
  /** Used to name the staging tables, so two pipelines never share one. */
  pipelineName: string;
  label: string;
  /** Dry runs never touch the target (staging is session-local in every run). */
  isDryRun?: boolean;
  /** Database of outflow's delivery ledger table; the target's database when unset. */
  ledgerSchema?: string;
}

/** outflow's delivery ledger: one row per pipeline, the last delivery that committed (see BulkDestination.delivered). */
const LEDGER_TABLE = '_outflow_deliveries';

/** Identifier length limit of MySQL and MariaDB. */
const MAX_IDENT = 64;
const RN_NAME = '_outflow_rn';

/** Column types whose values compare by collation (case- and trailing-space-insensitive) unless cast to binary. */
const COLLATED = /^(char|varchar|tinytext|text|mediumtext|longtext|enum|set|json)\b/i;

/** What one LOAD DATA reported: a warning means a value was changed or a row skipped. */
interface LoadOutcome extends Outcome {
  firstWarning?: { message: string };
}

/** Opens a MySQL or MariaDB server (create-destination.ts's registry line); connectMysql classifies its failures. */
export async function openMysqlDestination(config: MysqlDestinationConfig, ctx: DestinationContext): Promise<MysqlDestination> {
  const session = await connectMysql(config, { connectTimeoutMs: ctx.timeouts.connect, statementTimeoutMs: ctx.timeouts.statement, label: ctx.label, baseDir: ctx.baseDir });
  return new MysqlDestination(session, { table: config.table, pipelineName: ctx.pipelineName, label: ctx.label, isDryRun: ctx.isDryRun, ledgerSchema: config.ledger_schema });
}

export class MysqlDestination implements BulkDestination {
  readonly kind = 'mysql';
  readonly capabilities: DestinationCapabilities & { shape: 'bulk' } = {
    shape: 'bulk',
    modes: SYNC_MODES,
    transactions: true,
    readBack: true,
    // ON DUPLICATE KEY needs a unique index on the key; the anti-join (insert_new) and the key-table delete (mirror) rely on it too.
    uniqueKeyModes: ['insert_new', 'upsert', 'mirror'],
    // MySQL text holds a NUL character: nothing is unstorable up front; what a column cannot hold is a rejected row.
  };
  readonly encoding = LOAD_DATA_TEXT;
  readonly label: string;
  private table?: TableName;
  private target?: MysqlTargetTable;

  constructor(
    private readonly session: MysqlSession,
    private readonly opts: MysqlDestinationOptions,
  ) {
    this.label = opts.label;
  }

  private async tableName(): Promise<TableName> {
    this.table ??= await resolveTableName(this.session, this.opts.table);
    return this.table;
  }

  private q(name: string): string {
    return this.session.escapeId(name);
  }

  private helperTable(kind: 'stage' | 'keys'): string {
    const base = `_outflow_${kind}_${this.opts.pipelineName}`.slice(0, MAX_IDENT);
    return `${this.q(this.table!.schema)}.${this.q(base)}`;
  }

  async describe(): Promise<MysqlTargetTable | undefined> {
    try {
      this.target = await introspectTable(this.session, await this.tableName());
      return this.target;
    } catch (e) {
      throw wrapMysqlError(`${this.label}: cannot read the table definition`, e);
    }
  }

  incompatibility(from: LogicalType, to: TargetColumn): string | undefined {
    return mysqlIncompatibility(from, to.type ?? logicalFromMysqlColumn({ columnType: to.typeName, isJson: false }), to.typeName);
  }

  async createTable(columns: Column[], primaryKey: string[]): Promise<void> {
    const t = await this.tableName();
    const defs = columns.map((c) => {
      const type = mysqlColumnType(c, primaryKey.includes(c.name));
      if (typeof type !== 'string') throw new SchemaMismatchError(`${this.label}: cannot create column "${c.name}": ${type.unsupported}`);
      return `${this.q(c.name)} ${type}${primaryKey.includes(c.name) ? ' NOT NULL' : ''}`;
    });
    defs.push(`PRIMARY KEY (${primaryKey.map((k) => this.q(k)).join(', ')})`);
    // utf8mb4_bin: keys compare byte for byte, as they do in the model ('a' and 'A' are two rows).
    await this.session.query(`CREATE TABLE ${qualified(this.session, t)} (${defs.join(', ')}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
    await this.describe();
  }

  /**
   * A helper table with the target's column types (so a too-long or out-of-range value
   * fails while loading), all nullable (NOT NULL is the target's to enforce, per row, at
   * merge), numbered by _outflow_rn. TEMPORARY: creating and dropping a regular InnoDB table
   * cost 120-210 ms each on the bench machine (a file and a data-dictionary sync), a
   * temporary one 3-12 ms; it needs no redo log, is visible to the run's actions (same
   * session), and vanishes with a killed run's connection. No statement names it twice
   * (MySQL cannot reopen a temporary table within one statement).
   */
  private async createHelperTable(name: string, columns: string[]): Promise<void> {
    const target = this.target ?? (await this.describe());
    if (!target) throw new OutflowError(`${this.label}: the table does not exist`);
    const info = await this.session.query<{ name: string; type: string; charset: string | null; collation: string | null }>(
      `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, CHARACTER_SET_NAME AS charset, COLLATION_NAME AS collation
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`,
      [target.schema, target.name],
    );
    const byName = new Map(info.map((c) => [this.q(c.name), c]));
    const defs = columns.map((col) => {
      const c = byName.get(col)!;
      return `${col} ${c.type}${c.charset ? ` CHARACTER SET ${c.charset} COLLATE ${c.collation}` : ''} NULL`;
    });
    await this.session.query(`DROP TEMPORARY TABLE IF EXISTS ${name}`);
    await this.session.query(`CREATE TEMPORARY TABLE ${name} (${RN} BIGINT NOT NULL PRIMARY KEY, ${defs.join(', ')}) ENGINE=InnoDB`);
  }

  /** LOAD DATA LOCAL of the chunks; any warning (a value truncated, zeroed or a row skipped) is reported, not ignored. */
  private async load(table: string, columns: Column[], chunks: AsyncIterable<EncodedChunk>, withRn: boolean): Promise<LoadOutcome> {
    const r: LoadOutcome = await this.session.loadData(loadDataSql(table, columns, (n) => this.q(n), withRn ? RN_NAME : undefined), chunks);
    if (r.warnings > 0) {
      const w = await this.session.warnings();
      r.firstWarning = w.find((x) => x.level === 'Warning') ?? w.find((x) => x.level === 'Error') ?? w[0];
    }
    return r;
  }

  async stage(columns: Column[], rows: RowStream, opts: { mayLoadDirectly: boolean; delivery?: DeliveryIdentity }): Promise<StageResult> {
    await this.tableName();
    try {
      if (opts.mayLoadDirectly && !this.opts.isDryRun && (await this.loadIntoEmptyTarget(columns, rows, opts.delivery))) {
        return { staged: 0, rejected: [], loadedDirectly: true };
      }
      const cols = columns.map((c) => this.q(c.name));
      const staging = this.helperTable('stage');
      await this.createHelperTable(staging, cols);
      // An empty key table with every staged column: replace's delete guard reads it; stageKeys replaces it for mirror.
      await this.createHelperTable(this.helperTable('keys'), cols);
      const rejected: RejectedRow[] = [];
      await this.session.query('START TRANSACTION');
      // In row-number order: the rows go into _outflow_rn's primary key in order.
      const all = await this.load(staging, columns, rows.range(1, rows.count, true), true);
      if (all.warnings === 0) {
        await this.session.query('COMMIT');
        return { staged: rows.count, rejected, loadedDirectly: false };
      }
      // LOAD DATA LOCAL turns errors into warnings, and MariaDB's "at row N" does not always
      // name the right line: load again by halves, each in a savepoint, until every row that
      // draws a warning stands alone.
      await this.session.query('ROLLBACK');
      await this.session.query('START TRANSACTION');
      const staged = await this.loadIsolating(staging, columns, rows, 1, rows.count, rejected);
      await this.session.query('COMMIT');
      return { staged, rejected, loadedDirectly: false };
    } catch (e) {
      await this.session.query('ROLLBACK').catch(() => undefined);
      throw wrapMysqlError(`${this.label}: LOAD DATA into staging failed`, e);
    }
  }

  private async loadIsolating(staging: string, columns: Column[], rows: RowStream, lo: number, hi: number, rejected: RejectedRow[]): Promise<number> {
    await this.session.query('SAVEPOINT outflow_load');
    const r = await this.load(staging, columns, rows.range(lo, hi, true), true);
    if (r.warnings === 0) {
      await this.session.query('RELEASE SAVEPOINT outflow_load');
      return hi - lo + 1;
    }
    await this.session.query('ROLLBACK TO SAVEPOINT outflow_load');
    await this.session.query('RELEASE SAVEPOINT outflow_load');
    if (lo === hi) {
      const w = r.firstWarning ?? { message: 'the server changed a value while loading it' };
      const column = columnOfMysqlError({ message: w.message });
      // "Data truncated for column 'code'" says little alone: the column's type says why.
      const type = this.target?.columns.find((c) => c.name === column)?.typeName;
      rejected.push({ rn: lo, column, reason: `${describeMysqlError({ message: w.message })}${type ? ` (the column is ${type})` : ''}: the row was not loaded` });
      return 0;
    }
    const mid = Math.floor((lo + hi) / 2);
    return (await this.loadIsolating(staging, columns, rows, lo, mid, rejected)) + (await this.loadIsolating(staging, columns, rows, mid + 1, hi, rejected));
  }

  /**
   * A full sync into an empty table skips staging: LOAD DATA straight into the target in a
   * transaction that first checks, with a locking read, that it is empty. Any warning rolls
   * back to the empty table and the caller takes the staging path, which isolates the rows.
   */
  private async loadIntoEmptyTarget(columns: Column[], rows: RowStream, delivery?: DeliveryIdentity): Promise<boolean> {
    const t = qualified(this.session, await this.tableName());
    if (delivery) await this.ensureLedger();
    await this.session.query('START TRANSACTION');
    try {
      const any = await this.session.query(`SELECT 1 FROM ${t} LIMIT 1 FOR UPDATE`);
      if (any.length > 0) {
        await this.session.query('ROLLBACK');
        return false;
      }
      const r = await this.load(t, columns, rows.all(false), false);
      if (r.warnings > 0) {
        await this.session.query('ROLLBACK');
        return false;
      }
      if (delivery) await this.recordDelivery(delivery, { rows: [], deletes: [] });
      await this.session.query('COMMIT');
      return true;
    } catch (e) {
      await this.session.query('ROLLBACK').catch(() => undefined);
      if (isRowLevelMysqlError(e)) return false;
      throw e;
    }
  }

  async stageKeys(keyColumns: Column[], rows: RowStream): Promise<number> {
    await this.tableName();
    const keyTable = this.helperTable('keys');
    // Shaped by the pipeline's key, which may be a unique key other than the table's primary key.
    await this.createHelperTable(keyTable, keyColumns.map((c) => this.q(c.name)));
    let n = 0;
    const counted = (async function* () {
      for await (const c of rows.all(true)) {
        n += c.rows;
        yield c;
      }
    })();
    const r = await this.load(keyTable, keyColumns, counted, true).catch((e) => {
      throw wrapMysqlError(`${this.label}: LOAD DATA of the keys to delete failed`, e);
    });
    if (r.warnings > 0) throw new OutflowError(`${this.label}: the keys to delete did not load as sent: ${r.firstWarning?.message}`);
    return n;
  }

  private async mergeSql(plan: MergePlan): Promise<MergeSql> {
    const t = await this.tableName();
    const target = this.target ?? (await this.describe());
    const columns = target?.columns ?? [];
    const keySet = [...plan.keys].sort().join(',');
    // A unique key other than the pipeline key can be hit by a new row, unless an
    // AUTO_INCREMENT column in it gives every new row a fresh value.
    const others = (target?.uniqueKeys ?? []).filter((u) => [...u].sort().join(',') !== keySet && !u.some((c) => target!.autoIncrement.includes(c)));
    return {
      target: qualified(this.session, t),
      staging: this.helperTable('stage'),
      keyTable: this.helperTable('keys'),
      keys: plan.keys.map((k) => this.q(k)),
      columns: plan.columns.map((c) => this.q(c)),
      binaryCompared: new Set(columns.filter((c) => COLLATED.test(c.typeName)).map((c) => this.q(c.name))),
      isOnlyUniqueKey: others.length === 0,
    };
  }

  private async count(sql: string, params?: unknown[]): Promise<number> {
    const [row] = await this.session.query<{ n: string | number }>(sql, params);
    return Number(row?.n ?? 0);
  }

  async merge(plan: MergePlan): Promise<MergeResult> {
    const s = await this.mergeSql(plan);
    const result: MergeResult = { inserted: 0, updated: 0, deleted: 0, unchanged: 0, rejected: [] };
    const [range] = await this.session.query<{ lo: string | null; hi: string | null; n: string }>(
      `SELECT min(${RN}) AS lo, max(${RN}) AS hi, count(*) AS n FROM ${s.staging}`,
    );
    const staged = Number(range.n);
    if (plan.delivery) await this.ensureLedger();
    await this.session.query('START TRANSACTION');
    try {
      const deletes = plan.mode === 'replace' ? 'all' : plan.deletes;
      if (deletes !== 'none') {
        await this.guardDeletes(s, plan, deletes);
        if (deletes === 'keys') {
          // Deletes by key can be refused one by one (a foreign key still points at the row).
          result.rejectedDeletes = [];
          await this.isolateRows(s.keyTable, 1, Number.MAX_SAFE_INTEGER, {
            apply: async (a, b) => {
              result.deleted += (await this.session.change(deleteStatement('keys', s), [a, b])).affectedRows;
            },
            isRowLevel: isRowLevelMysqlError,
            reject: (rn, e) => result.rejectedDeletes!.push({ rn, column: columnOfMysqlError(e), reason: `delete refused: ${describeMysqlError(e)}` }),
          });
        } else {
          result.deleted = (await this.session.change(deleteStatement(deletes, s))).affectedRows;
        }
      }
      if (staged > 0) {
        for (const step of mergeSteps(plan.mode, s)) {
          await this.isolateRows(s.staging, Number(range.lo), Number(range.hi), {
            apply: async (a, b) => countOutcome(step.counts, await this.session.change(step.sql, [a, b]), result),
            // In insert mode a key the target already has fails the run, as the mode promises.
            isRowLevel: (e) => isRowLevelMysqlError(e) && !(plan.mode === 'insert' && isDuplicateKeyError(e)),
            reject: (rn, e) => {
              // With two steps (update, then insert) a row refused by the first is not tried by the second.
              if (!result.rejected.some((r) => r.rn === rn)) result.rejected.push({ rn, column: columnOfMysqlError(e), reason: describeMysqlError(e) });
            },
          });
        }
      }
      if (plan.delivery) {
        await this.recordDelivery(plan.delivery, { rows: result.rejected.map((r) => r.rn), deletes: (result.rejectedDeletes ?? []).map((r) => r.rn) });
      }
      await pauseForTests('merge-commit'); // crash tests: the merge done but not committed
      await this.session.query('COMMIT');
    } catch (e) {
      await this.session.query('ROLLBACK').catch(() => undefined);
      throw e instanceof OutflowError ? e : wrapMysqlError(`${this.label}: ${plan.mode} failed`, e);
    }
    const merged = staged - result.rejected.length;
    result.unchanged = plan.mode === 'insert' || plan.mode === 'replace' ? 0 : Math.max(0, merged - result.inserted - result.updated);
    return result;
  }

  private async ledgerName(): Promise<{ schema: string; table: string }> {
    return { schema: this.opts.ledgerSchema ?? (await this.tableName()).schema, table: LEDGER_TABLE };
  }

  private async ledgerSql(): Promise<string> {
    const l = await this.ledgerName();
    return `${this.q(l.schema)}.${this.q(l.table)}`;
  }

  /**
   * Creates the ledger when it is missing. Before the transaction: DDL commits implicitly in
   * MySQL, so it must never run inside the merge's transaction.
   */
  private async ensureLedger(): Promise<void> {
    if (this.opts.ledgerSchema) await this.session.query(`CREATE DATABASE IF NOT EXISTS ${this.q(this.opts.ledgerSchema)}`);
    await this.session.query(
      `CREATE TABLE IF NOT EXISTS ${await this.ledgerSql()} (pipeline varchar(255) NOT NULL PRIMARY KEY, run_id bigint NOT NULL, snapshot_version bigint NOT NULL, refused longtext NOT NULL, committed_at datetime(6) NOT NULL) ENGINE=InnoDB`,
    );
  }

  /** The ledger row of this delivery, inside the transaction that writes its rows: both commit or neither. */
  private async recordDelivery(d: DeliveryIdentity, refused: DeliveryRecord['refused']): Promise<void> {
    await this.session.change(
      `INSERT INTO ${await this.ledgerSql()} (pipeline, run_id, snapshot_version, refused, committed_at) VALUES (?, ?, ?, ?, UTC_TIMESTAMP(6))
       ON DUPLICATE KEY UPDATE run_id = VALUES(run_id), snapshot_version = VALUES(snapshot_version), refused = VALUES(refused), committed_at = VALUES(committed_at)`,
      [d.pipeline, d.runId, d.snapshotVersion, JSON.stringify(refused)],
    );
  }

  async delivered(pipeline: string, runId: number): Promise<DeliveryRecord | undefined> {
    const l = await this.ledgerName();
    const exists = await this.count('SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = ? AND table_name = ?', [l.schema, l.table]);
    if (exists === 0) return undefined;
    const [row] = await this.session.query<{ run_id: string; snapshot_version: string; refused: string; committed_at: string }>(
      `SELECT CAST(run_id AS CHAR) AS run_id, CAST(snapshot_version AS CHAR) AS snapshot_version, refused, CAST(committed_at AS CHAR) AS committed_at FROM ${await this.ledgerSql()} WHERE pipeline = ? AND run_id = ?`,
      [pipeline, runId],
    );
    return row ? { runId: Number(row.run_id), snapshotVersion: Number(row.snapshot_version), committedAt: `${row.committed_at}+00`, refused: JSON.parse(String(row.refused)) } : undefined;
  }

  private async guardDeletes(s: MergeSql, plan: MergePlan, kind: 'keys' | 'absent' | 'all'): Promise<void> {
    if (plan.maxDeleteRatio === undefined) return;
    const total = await this.count(`SELECT count(*) AS n FROM ${s.target}`);
    if (total === 0) return;
    // replace deletes everything but puts the staged rows back: only rows absent from staging are lost.
    const doomed = await this.count(countDeletes(kind === 'all' ? 'absent' : kind, s));
    guardMassDelete({ label: this.label, mode: plan.mode, doomed, total, maxDeleteRatio: plan.maxDeleteRatio });
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
    step: { apply: (lo: number, hi: number) => Promise<void>; isRowLevel: (e: unknown) => boolean; reject: (rn: number, e: unknown) => void },
  ): Promise<void> {
    await this.session.query('SAVEPOINT outflow_isolate');
    try {
      await step.apply(lo, hi);
      await this.session.query('RELEASE SAVEPOINT outflow_isolate');
    } catch (e) {
      await this.session.query('ROLLBACK TO SAVEPOINT outflow_isolate');
      await this.session.query('RELEASE SAVEPOINT outflow_isolate');
      if (!step.isRowLevel(e)) throw e;
      const [present] = await this.session.query<{ lo: string | null; hi: string | null; n: string }>(
        `SELECT min(${RN}) AS lo, max(${RN}) AS hi, count(*) AS n FROM ${table} WHERE ${RN} BETWEEN ? AND ?`,
        [lo, hi],
      );
      const n = Number(present.n);
      if (n === 0) return;
      const a = Number(present.lo);
      const b = Number(present.hi);
      if (n === 1) return step.reject(a, e);
      const mid = Math.floor((a + b) / 2);
      await this.isolateRows(table, a, mid, step);
      await this.isolateRows(table, mid + 1, b, step);
    }
  }

  async plan(plan: MergePlan): Promise<PlannedChanges> {
    const s = await this.mergeSql(plan);
    const staged = await this.count(`SELECT count(*) AS n FROM ${s.staging}`);
    const targetRows = await this.count(`SELECT count(*) AS n FROM ${s.target}`);
    const deletes = plan.mode === 'replace' ? 'all' : plan.deletes;
    const wouldDelete = deletes === 'none' ? 0 : await this.count(countDeletes(deletes, s));
    switch (plan.mode) {
      case 'insert':
      case 'replace':
        return { wouldInsert: staged, wouldUpdate: 0, wouldDelete, targetRows };
      case 'insert_new':
        return { wouldInsert: await this.count(countWouldInsert(s)), wouldUpdate: 0, wouldDelete, targetRows };
      case 'update':
        return { wouldInsert: 0, wouldUpdate: await this.count(countWouldUpdate(s)), wouldDelete, targetRows };
      default:
        return { wouldInsert: await this.count(countWouldInsert(s)), wouldUpdate: await this.count(countWouldUpdate(s)), wouldDelete, targetRows };
    }
  }

  async cleanup(): Promise<void> {
    if (!this.table) return;
    for (const kind of ['stage', 'keys'] as const) await this.session.query(`DROP TEMPORARY TABLE IF EXISTS ${this.helperTable(kind)}`);
  }

  /** Names for actions such as "truncate the staging table when the run fails", quoted for MySQL. */
  async actionNames(): Promise<ActionNames> {
    const t = await this.tableName();
    return { staging_table: this.helperTable('stage'), target_table: qualified(this.session, t) };
  }

  async *readBack(columns: Column[], batchSize: number): AsyncIterable<Batch> {
    const t = qualified(this.session, await this.tableName());
    // Exact text where the driver would lose precision: DECIMAL and BIGINT arrive as strings
    // (bigNumberStrings), dates as the server's text (dateStrings), doubles as CAST text.
    const select = columns.map((c) => readExpr(this.q(c.name), c.type)).join(', ');
    try {
      for await (const rows of this.session.stream(`SELECT ${select} FROM ${t}`, Math.max(1, Math.floor(batchSize)))) {
        yield { rows: rows.map((row) => row.map((v, i) => readValue(v, columns[i].type))) };
      }
    } catch (e) {
      throw wrapMysqlError(`${this.label}: reading the table back failed`, e);
    }
  }

  async execute(sql: string): Promise<void> {
    await this.session.query(sql);
  }

  async close(): Promise<void> {
    await this.session.close();
  }
}

/** Adds one merge statement's outcome to the result. */
function countOutcome(counts: 'inserted' | 'updated' | 'upserted', r: Outcome, result: MergeResult): void {
  if (counts === 'inserted') result.inserted += r.affectedRows;
  else if (counts === 'updated') result.updated += r.affectedRows;
  else {
    // ON DUPLICATE KEY UPDATE counts 1 per inserted row and 2 per changed row (FOUND_ROWS
    // off); the server's info line counts the changed rows as Duplicates.
    const updated = Number(/Duplicates: (\d+)/.exec(r.info)?.[1] ?? 0);
    result.updated += updated;
    result.inserted += r.affectedRows - 2 * updated;
  }
}

function readExpr(col: string, t: LogicalType): string {
  switch (t.kind) {
    case 'float32':
    case 'float64':
    case 'decimal':
    case 'int64':
      return `CAST(${col} AS CHAR)`;
    case 'bytes':
      return `HEX(${col})`;
    default:
      return col;
  }
}

function readValue(v: unknown, t: LogicalType): Value {
  if (v === null || v === undefined) return null;
  switch (t.kind) {
    case 'bool':
      return Number(v) !== 0;
    case 'bytes':
      return Buffer.from(String(v), 'hex');
    case 'timestamptz':
      return `${String(v)}+00`;
    default:
      return typeof v === 'number' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  }
}
