import { quotedIdentifier as q, quotedString } from '@duckdb/node-api';
import type { WarehouseDiffDialect } from '../warehouse-diff.js';
import { PENDING_PN } from '../warehouse-diff.js';
import {
  classifiedSql,
  duplicateKeysSql,
  mergeAdvanceSql,
  modelHashSql,
  pendingCountsSql,
  pendingKeyProblemsSql,
  pendingRowsSql,
  readPartitionSql,
  snapshotShapeSql,
  stateTableName,
  type SqlFlavor,
} from '../warehouse-diff-sql.js';
import { relationSql } from './duckdb-source.js';

/**
 * A DuckDB file as the warehouse: the state lives in a schema of the same file. The row
 * hash is DuckDB's hash() (UBIGINT), as in the local diff.
 */
export const duckdbFlavor: SqlFlavor = {
  q,
  table: (spec, role) => `${q(spec.stateSchema)}.${q(stateTableName(spec, role))}`,
  relation: relationSql,
  rowHash: (exprs) => `hash(${exprs.join(', ')})`,
  partitionOf: (keys, n) => `CAST(hash(${keys.join(', ')}) % ${n} AS INTEGER)`,
  literal: quotedString,
};

const f = duckdbFlavor;

export const duckdbWarehouseDialect: WarehouseDiffDialect = {
  ensureState: (spec) => [
    { sql: `CREATE SCHEMA IF NOT EXISTS ${q(spec.stateSchema)}` },
    { sql: `CREATE TABLE IF NOT EXISTS ${f.table(spec, 'meta')} (fingerprint VARCHAR, updated_at TIMESTAMPTZ)` },
  ],
  readMeta: (spec) => ({ sql: `SELECT fingerprint FROM ${f.table(spec, 'meta')} LIMIT 1` }),
  writeMeta: (spec, fingerprint) => [
    { sql: `CREATE OR REPLACE TABLE ${f.table(spec, 'meta')} AS SELECT CAST($1 AS VARCHAR) AS fingerprint, now() AS updated_at`, params: [fingerprint] },
  ],
  diff(spec, { isFull }) {
    const snapshotRows = isFull ? '0' : `(SELECT count(*) FROM ${f.table(spec, 'snapshot')})`;
    return [
      {
        sql: `CREATE OR REPLACE TABLE ${f.table(spec, 'pending')} AS
WITH m AS (${modelHashSql(spec, f)}),
j AS (${classifiedSql(spec, f, isFull, 'NULL::UBIGINT')})
${pendingRowsSql(spec, f)}`,
      },
      { sql: `SELECT (SELECT count(*) FROM ${f.relation(spec.model)}) AS read, ${snapshotRows} AS snapshot_rows` },
    ];
  },
  pendingCounts: (spec) => ({ sql: pendingCountsSql(spec, f) }),
  pendingKeyProblems: (spec) => ({ sql: pendingKeyProblemsSql(spec, f) }),
  duplicateKeys: (spec) => ({ sql: duplicateKeysSql(spec, f, (keys) => `CAST(row(${keys.join(', ')}) AS VARCHAR)`) }),
  readPartition: (spec, part, kinds) => ({ sql: readPartitionSql(spec, f, 'CAST($1 AS INTEGER)', kinds), params: [part] }),
  resetSnapshot: (spec) => [{ sql: `CREATE OR REPLACE TABLE ${f.table(spec, 'snapshot')} AS ${snapshotShapeSql(spec, f)} LIMIT 0` }],
  advance: (spec, a) => [
    {
      sql: mergeAdvanceSql(spec, f, a, { part: 'CAST($1 AS INTEGER)', rejected: '$2', rejectedRemoved: '$3' }, (list) => `NOT list_contains(CAST(${list} AS BIGINT[]), ${PENDING_PN})`),
      params: [a.part, a.rejected, a.rejectedRemoved],
    },
  ],
  dropPending: (spec) => [{ sql: `DROP TABLE IF EXISTS ${f.table(spec, 'pending')}` }],
};

