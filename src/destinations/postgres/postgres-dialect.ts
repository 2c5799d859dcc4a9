import type { SyncMode } from '../../config/pipeline-schema.js';

/**
 * SQL text for staging and merging, per sync mode. Identifiers arrive already quoted by the
 * driver's escapeIdentifier; values never appear here: row ranges are $1/$2 parameters.
 */
export interface MergeSql {
  target: string;
  staging: string;
  keyTable: string;
  keys: string[];
  columns: string[];
  /** Columns compared as jsonb, because plain json has no equality operator. */
  jsonColumns: Set<string>;
}

export const RN = '"_outflow_rn"';
const RANGE = `${RN} BETWEEN $1 AND $2`;

function cmp(col: string, alias: string, s: MergeSql): string {
  return s.jsonColumns.has(col) ? `${alias}.${col}::jsonb` : `${alias}.${col}`;
}

function values(s: MergeSql): string[] {
  return s.columns.filter((c) => !s.keys.includes(c));
}

function distinct(s: MergeSql, left: string, right: string): string {
  const v = values(s);
  return `(${v.map((c) => cmp(c, left, s)).join(', ')}${v.length === 1 ? '' : ''}) IS DISTINCT FROM (${v
    .map((c) => cmp(c, right, s))
    .join(', ')})`;
}

function keyMatch(s: MergeSql, left: string, right: string): string {
  return s.keys.map((k) => `${left}.${k} = ${right}.${k}`).join(' AND ');
}

/**
 * One statement that merges the staged rows with $1 <= _outflow_rn <= $2 and returns
 * `inserted` and `updated` counts. `xmax = 0` tells a fresh insert from an update.
 */
export function mergeStatement(mode: SyncMode, s: MergeSql): string {
  const cols = s.columns.join(', ');
  const select = `SELECT ${cols} FROM ${s.staging} WHERE ${RANGE}`;
  const vals = values(s);
  switch (mode) {
    case 'insert':
    case 'replace':
      return `WITH r AS (INSERT INTO ${s.target} (${cols}) ${select} RETURNING 1)
              SELECT count(*)::int AS inserted, 0 AS updated FROM r`;
    case 'insert_new':
      return `WITH r AS (INSERT INTO ${s.target} (${cols}) ${select} ON CONFLICT (${s.keys.join(', ')}) DO NOTHING RETURNING 1)
              SELECT count(*)::int AS inserted, 0 AS updated FROM r`;
    case 'upsert':
    case 'mirror': {
      const action =
        vals.length === 0
          ? 'DO NOTHING'
          : `DO UPDATE SET ${vals.map((c) => `${c} = EXCLUDED.${c}`).join(', ')} WHERE ${distinct(s, 't', 'EXCLUDED')}`;
      return `WITH r AS (INSERT INTO ${s.target} AS t (${cols}) ${select}
                ON CONFLICT (${s.keys.join(', ')}) ${action} RETURNING (xmax = 0) AS ins)
              SELECT (count(*) FILTER (WHERE ins))::int AS inserted, (count(*) FILTER (WHERE NOT ins))::int AS updated FROM r`;
    }
    case 'update':
      if (vals.length === 0) return `SELECT 0 AS inserted, 0 AS updated`;
      return `WITH r AS (UPDATE ${s.target} AS t SET ${vals.map((c) => `${c} = s.${c}`).join(', ')}
                FROM ${s.staging} AS s
               WHERE ${keyMatch(s, 't', 's')} AND ${distinct(s, 't', 's')} AND s.${RANGE} RETURNING 1)
              SELECT 0 AS inserted, count(*)::int AS updated FROM r`;
  }
}

/** Target rows a mirror/replace run deletes: by the key table, or those absent from staging and key table. */
export function deleteWhere(kind: 'keys' | 'absent' | 'all', s: MergeSql): string {
  if (kind === 'all') return 'TRUE';
  if (kind === 'keys') return `EXISTS (SELECT 1 FROM ${s.keyTable} AS k WHERE ${keyMatch(s, 't', 'k')})`;
  return `NOT EXISTS (SELECT 1 FROM ${s.staging} AS s WHERE ${keyMatch(s, 't', 's')})
      AND NOT EXISTS (SELECT 1 FROM ${s.keyTable} AS k WHERE ${keyMatch(s, 't', 'k')})`;
}

/** Deletes the target rows whose key is in the key table rows $1 <= _outflow_rn <= $2. */
export function deleteKeysInRange(s: MergeSql): string {
  return `DELETE FROM ${s.target} AS t WHERE EXISTS (SELECT 1 FROM ${s.keyTable} AS k WHERE ${keyMatch(s, 't', 'k')} AND k.${RANGE})`;
}

export function countWouldInsert(s: MergeSql): string {
  return `SELECT count(*)::int AS n FROM ${s.staging} AS s WHERE NOT EXISTS (SELECT 1 FROM ${s.target} AS t WHERE ${keyMatch(s, 't', 's')})`;
}

export function countWouldUpdate(s: MergeSql): string {
  if (values(s).length === 0) return 'SELECT 0 AS n';
  return `SELECT count(*)::int AS n FROM ${s.staging} AS s JOIN ${s.target} AS t ON ${keyMatch(s, 't', 's')} WHERE ${distinct(s, 't', 's')}`;
}
