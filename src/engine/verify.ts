import { listValue, quotedIdentifier, type DuckDBConnection } from '@duckdb/node-api';
import type { Pipeline } from '../config/load-pipeline.js';
import type { SyncMode } from '../config/pipeline-schema.js';
import type { TargetTable } from '../destinations/destination.js';
import type { Column, LogicalType, Value } from '../types/logical-type.js';
import { openDestination, openSource } from './connect.js';
import { planColumns } from './column-plan.js';
import { describeModel } from './run-pipeline.js';
import { openWorkspace } from '../diff/workspace.js';
import { loadBatchesIntoDuckdb } from '../diff/model-loader.js';
import { readRows } from '../diff/compute-diff.js';
import { OutflowError, SchemaMismatchError } from '../errors.js';
import { duckdbTypeFor } from '../types/duckdb-types.js';
import { isSameJson } from '../types/canonical-json.js';
import { raisedMemoryLimitAfter } from '../duckdb/duckdb-memory.js';

export type VerifyKind = 'missing' | 'extra' | 'different';

export interface VerifyResult {
  pipeline: string;
  mode: SyncMode;
  modelRows: number;
  destinationRows: number;
  /** Keys in the model that the destination lacks. */
  missing: number;
  /** Keys in the destination that the model lacks. */
  extra: number;
  /** Keys in both whose mapped values differ. */
  different: number;
  samples: { missing: Value[][]; extra: Value[][]; different: Value[][] };
  /** For rows that differ: how many differ in each column. */
  differentColumns: Record<string, number>;
  /** Every model row is in the destination with the same values, and the destination holds nothing else. */
  equal: boolean;
  /**
   * The kinds of difference the sync mode leaves by design: `upsert` and `update` keep rows
   * that left the model (extra), `update` never inserts (missing), `insert` and `insert_new`
   * never update (different) and keep what left the model (extra).
   */
  expected: VerifyKind[];
  /** No difference beyond those the mode expects: what the destination should look like after a successful run. */
  consistent: boolean;
}

/** What each sync mode promises, as the kinds of difference it leaves in place. */
export const EXPECTED_BY_MODE: Record<SyncMode, VerifyKind[]> = {
  mirror: [],
  replace: [],
  upsert: ['extra'],
  update: ['missing', 'extra'],
  insert_new: ['extra', 'different'],
  insert: ['extra', 'different'],
};

/** Rows per page when JSON values are compared in JS (a page is held in memory at once). */
const JSON_PAGE_ROWS = 10_000;

/**
 * Compares the model with the destination table by key and mapped values, without
 * trusting the snapshot: the destination is read back (as text, parsed exactly) into the
 * workspace and joined with the model in DuckDB, which spills to disk beyond its memory
 * limit. Like a run, verify starts at the automatic DuckDB memory limit and doubles it when
 * DuckDB runs out, up to its maximum.
 */
export async function verifyPipeline(p: Pipeline, opts: { sampleSize?: number } = {}): Promise<VerifyResult> {
  for (;;) {
    try {
      return await verifyOnce(p, opts.sampleSize ?? 5);
    } catch (e) {
      const configured = (p.spec.source as { memory_limit?: string }).memory_limit;
      if (!raisedMemoryLimitAfter(e, configured)) throw e;
    }
  }
}

/** How one destination column is compared: in the destination's type, and JSON by value. */
interface Compared {
  column: Column;
  /** The type both sides are compared in. */
  as: LogicalType;
  isJson: boolean;
}

/** Destination types a text model column is compared in: the ones Postgres (or any database) parses text into and prints its own way. */
const PARSED_FROM_TEXT = new Set(['int16', 'int32', 'int64', 'float32', 'float64', 'bool', 'date', 'time', 'timestamp', 'timestamptz', 'uuid', 'decimal']);

export function comparedColumns(columns: Column[], target: TargetTable | undefined): Compared[] {
  const byName = new Map((target?.columns ?? []).map((c) => [c.name, c]));
  return columns.map((column) => {
    const dest = byName.get(column.name)?.type;
    if (dest?.kind === 'json' && (column.type.kind === 'json' || column.type.kind === 'text')) {
      return { column, as: { kind: 'json' }, isJson: true };
    }
    const fitsDuckdb = dest?.kind !== 'decimal' || (dest.scale >= 0 && dest.precision <= 38);
    if (column.type.kind === 'text' && dest && PARSED_FROM_TEXT.has(dest.kind) && fitsDuckdb) return { column, as: dest, isJson: false };
    return { column, as: column.type, isJson: column.type.kind === 'json' };
  });
}

async function verifyOnce(p: Pipeline, n: number): Promise<VerifyResult> {
  const source = await openSource(p);
  const dest = await openDestination(p, { isDryRun: true });
  let ws: Awaited<ReturnType<typeof openWorkspace>> | undefined;
  try {
    const schema = await describeModel(p, source);
    const plan = planColumns(p, schema);
    if (!dest.capabilities.readBack || !dest.readBack) {
      throw new OutflowError(
        `${dest.label}: verify cannot check this destination: ${dest.kind} cannot be read back (its capabilities say readBack: false), so there is nothing to compare the model with`,
      );
    }
    const target = dest.describe ? await dest.describe() : undefined;
    if (dest.describe && !target) throw new SchemaMismatchError(`${dest.label}: the table does not exist`);
    ws = await openWorkspace(source, p.spec.model, schema, { stateDir: p.stateDir, batchSize: p.spec.batch_size });
    const c = ws.connection;
    const q = quotedIdentifier;
    const compared = comparedColumns(plan.columns, target);
    // The model side is a view (no second copy of the model); a text column feeding a typed
    // destination column is cast to that type, as the destination parsed it.
    const modelCol = (x: Compared, i: number) => {
      const from = q(plan.modelNames[i]);
      if (x.isJson) return `CAST(${from} AS VARCHAR)`;
      if (x.as === x.column.type) return from;
      return `TRY_CAST(${from} AS ${duckdbTypeFor(x.as)})`;
    };
    await c.run(
      `CREATE OR REPLACE TEMP VIEW _outflow_vm AS SELECT ${compared.map((x, i) => `${modelCol(x, i)} AS ${q(x.column.name)}`).join(', ')} FROM ${ws.relation}`,
    );
    const readAs = compared.map((x) => ({ ...x.column, type: x.isJson ? ({ kind: 'text' } as LogicalType) : x.as }));
    await loadBatchesIntoDuckdb(c, '_outflow_vd', { columns: readAs }, dest.readBack(readAs, p.spec.batch_size));
    const keySet = new Set(plan.keys);
    const on = plan.keys.map((k) => `m.${q(k)} = d.${q(k)}`).join(' AND ');
    const values = compared.filter((x) => !keySet.has(x.column.name));
    const keyCols = plan.keys.map((k) => plan.columns.find((col) => col.name === k)!);
    const keySel = (alias: string) => plan.keys.map((k) => `${alias}.${q(k)}`).join(', ');
    const count = async (sql: string) => Number((await c.runAndReadAll(sql)).getRowObjects()[0].n);
    const missingSql = `FROM _outflow_vm AS m ANTI JOIN _outflow_vd AS d ON ${on}`;
    const extraSql = `FROM _outflow_vd AS d ANTI JOIN _outflow_vm AS m ON ${on}`;
    // One row per key whose values differ, with a flag per value column; JSON flags are then
    // cleared where the two texts hold the same JSON value.
    const flag = (i: number) => `_f${i}`; // clearSameJson relies on these names
    const anyFlag = values.length ? values.map((_, i) => flag(i)).join(' OR ') : 'false';
    const differs = values.length
      ? `row(${values.map((v) => `m.${q(v.column.name)}`).join(', ')}) IS DISTINCT FROM row(${values.map((v) => `d.${q(v.column.name)}`).join(', ')})`
      : 'false';
    // JSON values ride along (only for rows that differ) so they are not joined again.
    const jsonValues = values.map((v, i) => (v.isJson ? `, m.${q(v.column.name)} AS _m${i}, d.${q(v.column.name)} AS _d${i}` : '')).join('');
    await c.run(
      `CREATE OR REPLACE TEMP TABLE _outflow_vx AS
         SELECT row_number() OVER () AS _rn, ${keySel('m')}${values.map((v, i) => `, m.${q(v.column.name)} IS DISTINCT FROM d.${q(v.column.name)} AS ${flag(i)}`).join('')}${jsonValues}
           FROM _outflow_vm AS m JOIN _outflow_vd AS d ON ${on} WHERE ${differs}`,
    );
    for (const [i, v] of values.entries()) {
      if (v.isJson) await clearSameJson(c, i);
    }
    const diffSql = `FROM _outflow_vx AS m WHERE ${anyFlag}`;
    const result: VerifyResult = {
      pipeline: p.name,
      mode: p.spec.mode,
      modelRows: await count('SELECT count(*) AS n FROM _outflow_vm'),
      destinationRows: await count('SELECT count(*) AS n FROM _outflow_vd'),
      missing: await count(`SELECT count(*) AS n ${missingSql}`),
      extra: await count(`SELECT count(*) AS n ${extraSql}`),
      different: await count(`SELECT count(*) AS n ${diffSql}`),
      samples: {
        missing: await readRows(c, `SELECT ${keySel('m')} ${missingSql} ORDER BY ${keySel('m')} LIMIT ${n}`, keyCols),
        extra: await readRows(c, `SELECT ${keySel('d')} ${extraSql} ORDER BY ${keySel('d')} LIMIT ${n}`, keyCols),
        different: await readRows(c, `SELECT ${keySel('m')} ${diffSql} ORDER BY ${keySel('m')} LIMIT ${n}`, keyCols),
      },
      differentColumns: {},
      equal: false,
      expected: EXPECTED_BY_MODE[p.spec.mode],
      consistent: false,
    };
    if (result.different > 0) {
      const perColumn = (await c.runAndReadAll(`SELECT ${values.map((_, i) => `count(*) FILTER (WHERE ${flag(i)}) AS c${i}`).join(', ')} FROM _outflow_vx`)).getRows()[0];
      values.forEach((v, i) => {
        if (Number(perColumn[i]) > 0) result.differentColumns[v.column.name] = Number(perColumn[i]);
      });
    }
    result.equal = result.missing === 0 && result.extra === 0 && result.different === 0;
    result.consistent = (['missing', 'extra', 'different'] as const).every((k) => result[k] === 0 || result.expected.includes(k));
    await c.run('DROP VIEW IF EXISTS _outflow_vm; DROP TABLE IF EXISTS _outflow_vd; DROP TABLE IF EXISTS _outflow_vx');
    return result;
  } finally {
    await ws?.close();
    await dest.close();
    await source.close();
  }
}

/**
 * Clears the flag of value column `i` on rows whose JSON holds the same value on both
 * sides. DuckDB has no key-order-insensitive JSON equality, so the flagged rows are read a
 * page at a time (by row number) and compared in JS; the equal ones are unflagged.
 */
async function clearSameJson(c: DuckDBConnection, i: number): Promise<void> {
  await c.run('CREATE OR REPLACE TEMP TABLE _outflow_vj_same (_rn BIGINT)');
  const last = Number((await c.runAndReadAll(`SELECT coalesce(max(_rn), 0) AS n FROM _outflow_vx`)).getRows()[0][0]);
  for (let lo = 1; lo <= last; lo += JSON_PAGE_ROWS) {
    const page = (
      await c.runAndReadAll(
        `SELECT _rn, CAST(_m${i} AS VARCHAR), CAST(_d${i} AS VARCHAR) FROM _outflow_vx
          WHERE _f${i} AND _m${i} IS NOT NULL AND _d${i} IS NOT NULL AND _rn BETWEEN ${lo} AND ${lo + JSON_PAGE_ROWS - 1}`,
      )
    ).getRows();
    const same = page.filter((r) => isSameJson(String(r[1]), String(r[2]))).map((r) => BigInt(r[0] as bigint));
    if (same.length) await c.run('INSERT INTO _outflow_vj_same SELECT unnest($1::BIGINT[])', [listValue(same)]);
  }
  await c.run(`UPDATE _outflow_vx SET _f${i} = false WHERE _rn IN (SELECT _rn FROM _outflow_vj_same)`);
  await c.run('DROP TABLE _outflow_vj_same');
}
