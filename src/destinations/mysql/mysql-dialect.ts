import type { SyncMode } from '../../config/pipeline-schema.js';

/**
 * SQL text for merging staged rows into the target, per sync mode. Identifiers arrive
 * quoted by the driver's escapeId; values never appear here: row ranges are `?` parameters.
 */
export interface MergeSql {
  target: string;
  staging: string;
  keyTable: string;
  keys: string[];
  columns: string[];
  /** Columns compared byte for byte: a _ci collation or PAD SPACE would call 'a' and 'A ' equal. */
  binaryCompared: Set<string>;
  /**
   * True when the pipeline key is the table's only unique key a new row could hit, so
   * ON DUPLICATE KEY UPDATE can only ever match the row with the same key.
   */
  isOnlyUniqueKey: boolean;
}

export const RN = '`_outflow_rn`';
const RANGE = `${RN} BETWEEN ? AND ?`;

/** One merge step: a statement over the staged rows ? <= _outflow_rn <= ?, and what its outcome counts. */
export interface MergeStep {
  sql: string;
  counts: 'inserted' | 'updated' | 'upserted';
}

function values(s: MergeSql): string[] {
  return s.columns.filter((c) => !s.keys.includes(c));
}

function cmp(s: MergeSql, alias: string, col: string): string {
  return s.binaryCompared.has(col) ? `CAST(${alias}.${col} AS BINARY)` : `${alias}.${col}`;
}

/** True when a target row and a staged row hold different values (NULL-safe). */
function differs(s: MergeSql, t: string, st: string): string {
  const v = values(s);
  if (v.length === 0) return 'FALSE';
  return `NOT (${v.map((c) => `${cmp(s, t, c)} <=> ${cmp(s, st, c)}`).join(' AND ')})`;
}

function keyMatch(s: MergeSql, left: string, right: string): string {
  return s.keys.map((k) => `${left}.${k} = ${right}.${k}`).join(' AND ');
}

function selectStaged(s: MergeSql): string {
  return s.columns.map((c) => `s.${c}`).join(', ');
}

/** New rows only: an anti-join, never INSERT IGNORE (which would also hide bad values). */
function insertNew(s: MergeSql): string {
  return `INSERT INTO ${s.target} (${s.columns.join(', ')})
    SELECT ${selectStaged(s)} FROM ${s.staging} AS s
     WHERE s.${RANGE} AND NOT EXISTS (SELECT 1 FROM ${s.target} AS t WHERE ${keyMatch(s, 't', 's')})`;
}

function updateChanged(s: MergeSql): string {
  return `UPDATE ${s.target} AS t JOIN ${s.staging} AS s ON ${keyMatch(s, 't', 's')}
       SET ${values(s).map((c) => `t.${c} = s.${c}`).join(', ')}
     WHERE s.${RANGE} AND ${differs(s, 't', 's')}`;
}

/**
 * The statements that merge one range of staged rows, in order. Each takes the range
 * bounds as its two parameters.
 */
export function mergeSteps(mode: SyncMode, s: MergeSql): MergeStep[] {
  const vals = values(s);
  switch (mode) {
    case 'insert':
    case 'replace':
      return [{ sql: `INSERT INTO ${s.target} (${s.columns.join(', ')}) SELECT ${selectStaged(s)} FROM ${s.staging} AS s WHERE s.${RANGE}`, counts: 'inserted' }];
    case 'insert_new':
      return [{ sql: insertNew(s), counts: 'inserted' }];
    case 'update':
      return vals.length ? [{ sql: updateChanged(s), counts: 'updated' }] : [];
    case 'upsert':
    case 'mirror':
      if (!s.isOnlyUniqueKey || vals.length === 0) {
        // Another unique key could match a different row than the key does: update by key,
        // then insert by key, so a clash on the other key is that row's error (rejected),
        // never an update of someone else's row.
        return [...(vals.length ? [{ sql: updateChanged(s), counts: 'updated' as const }] : []), { sql: insertNew(s), counts: 'inserted' }];
      }
      // Only new rows and rows whose values differ reach the INSERT, so unchanged rows are
      // never touched (no write, no trigger). The derived table keeps the ON DUPLICATE KEY
      // clause's column names unambiguous.
      return [
        {
          sql: `INSERT INTO ${s.target} (${s.columns.join(', ')})
            SELECT * FROM (SELECT ${selectStaged(s)} FROM ${s.staging} AS s LEFT JOIN ${s.target} AS t ON ${keyMatch(s, 't', 's')}
                            WHERE s.${RANGE} AND (t.${s.keys[0]} IS NULL OR ${differs(s, 't', 's')})) AS d
            ON DUPLICATE KEY UPDATE ${vals.map((c) => `${c} = VALUES(${c})`).join(', ')}`,
          counts: 'upserted',
        },
      ];
  }
}

/** Target rows a mirror/replace run deletes: by the key table, every row, or those in neither staging nor the key table. */
export function deleteStatement(kind: 'keys' | 'absent' | 'all', s: MergeSql): string {
  if (kind === 'all') return `DELETE FROM ${s.target}`;
  if (kind === 'keys') return `DELETE t FROM ${s.target} AS t JOIN ${s.keyTable} AS k ON ${keyMatch(s, 't', 'k')} WHERE k.${RANGE}`;
  return `DELETE t FROM ${s.target} AS t LEFT JOIN ${s.staging} AS s ON ${keyMatch(s, 't', 's')} LEFT JOIN ${s.keyTable} AS k ON ${keyMatch(s, 't', 'k')}
           WHERE s.${RN} IS NULL AND k.${RN} IS NULL`;
}

/** How many target rows a delete would remove (the mass-delete guard and plan()). */
export function countDeletes(kind: 'keys' | 'absent' | 'all', s: MergeSql): string {
  if (kind === 'all') return `SELECT count(*) AS n FROM ${s.target}`;
  if (kind === 'keys') return `SELECT count(*) AS n FROM ${s.target} AS t JOIN ${s.keyTable} AS k ON ${keyMatch(s, 't', 'k')}`;
  return `SELECT count(*) AS n FROM ${s.target} AS t LEFT JOIN ${s.staging} AS s ON ${keyMatch(s, 't', 's')} LEFT JOIN ${s.keyTable} AS k ON ${keyMatch(s, 't', 'k')}
           WHERE s.${RN} IS NULL AND k.${RN} IS NULL`;
}

export function countWouldInsert(s: MergeSql): string {
  return `SELECT count(*) AS n FROM ${s.staging} AS s WHERE NOT EXISTS (SELECT 1 FROM ${s.target} AS t WHERE ${keyMatch(s, 't', 's')})`;
}

export function countWouldUpdate(s: MergeSql): string {
  return `SELECT count(*) AS n FROM ${s.staging} AS s JOIN ${s.target} AS t ON ${keyMatch(s, 't', 's')} WHERE ${differs(s, 't', 's')}`;
}
