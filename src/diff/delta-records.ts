import type { DuckDBConnection } from '@duckdb/node-api';
import type { DeltaRecord } from '../destinations/destination.js';
import type { Column, Value } from '../types/logical-type.js';
import { columnList } from '../duckdb/duckdb-sql.js';
import { ensureDeltaTable, readRows } from './compute-diff.js';

const RN: Column = { name: '_rn', type: { kind: 'int64' }, nullable: false };
const ADDED: Column = { name: '_added', type: { kind: 'bool' }, nullable: false };
const HASH: Column = { name: '_h', type: { kind: 'text' }, nullable: false };

/**
 * The delta as typed records, for destinations of the `records` shape: bounded batches of
 * at most `batchRows`, read from the workspace by row-number range (never the whole delta
 * in memory). `upserts` are the rows to send (_outflow_delta: added and changed), `removed`
 * the keys mirror deletes (_outflow_removed); row numbers are those tables' own, the same
 * the rejected-row bookkeeping uses.
 */
export async function* deltaRecordBatches(
  c: DuckDBConnection,
  kind: 'upserts' | 'removed',
  columns: Column[],
  keys: string[],
  batchRows: number,
): AsyncIterable<DeltaRecord[]> {
  const keyColumns = keys.map((k) => columns.find((col) => col.name === k)!);
  // Numbered in key order (a full sync numbers them here): the same delta makes the same batches.
  if (kind === 'upserts') await ensureDeltaTable(c, keys);
  const table = kind === 'upserts' ? '_outflow_delta' : '_outflow_removed';
  const total = Number((await c.runAndReadAll(`SELECT coalesce(max(_rn), 0) AS n FROM ${table}`)).getRows()[0][0]);
  const step = Math.max(1, Math.floor(batchRows));
  for (let lo = 1; lo <= total; lo += step) {
    const range = [BigInt(lo), BigInt(Math.min(total, lo + step - 1))];
    if (kind === 'removed') {
      const rows = await readRows(c, `SELECT _rn, ${columnList(keys)} FROM ${table} WHERE _rn BETWEEN $1 AND $2 ORDER BY _rn`, [RN, ...keyColumns], range);
      yield rows.map((r) => ({ rn: Number(r[0]), op: 'removed', key: r.slice(1) }));
      continue;
    }
    const names = columns.map((col) => col.name);
    const rows = await readRows(
      c,
      `SELECT _rn, _added, CAST(_h AS VARCHAR) AS _h, ${columnList(names)} FROM ${table} WHERE _rn BETWEEN $1 AND $2 ORDER BY _rn`,
      [RN, ADDED, HASH, ...columns],
      range,
    );
    const keyAt = keys.map((k) => names.indexOf(k));
    yield rows.map((r) => {
      const values: Value[] = r.slice(3);
      return { rn: Number(r[0]), op: r[1] ? 'added' : 'changed', key: keyAt.map((i) => values[i]), values, hash: String(r[2]) };
    });
  }
}
