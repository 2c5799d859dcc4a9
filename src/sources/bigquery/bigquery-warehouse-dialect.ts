import type { Model } from '../source.js';
import type { WarehouseDiffDialect } from '../warehouse-diff.js';
import { PENDING_PART, PENDING_PN } from '../warehouse-diff.js';
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
import { parseTableRef, querySql, quoteIdentifier as q } from './bigquery-model.js';

/** Where the dialect's names resolve: the billing project (also the state dataset's), the default dataset, the location. */
export interface BigqueryPlace {
  project: string;
  dataset?: string;
  location?: string;
}

/** A GoogleSQL string literal. */
function literal(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The row as JSON text, fingerprinted: every GoogleSQL type has a JSON form, so one expression serves every column type. */
function fingerprint(exprs: string[]): string {
  return `FARM_FINGERPRINT(TO_JSON_STRING(STRUCT(${exprs.join(', ')})))`;
}

export function bigqueryFlavor(place: BigqueryPlace): SqlFlavor {
  return {
    q,
    table: (spec, role) => `${q(place.project)}.${q(spec.stateSchema)}.${q(stateTableName(spec, role))}`,
    relation: (model: Model) => {
      if ('query' in model) return `(${querySql(model.query)}) AS model`;
      const ref = parseTableRef(model.table, place.project, place.dataset);
      return `${q(ref.projectId)}.${q(ref.datasetId)}.${q(ref.tableId)} AS model`;
    },
    rowHash: fingerprint,
    // MOD keeps the sign of a negative fingerprint; ABS after it cannot overflow.
    partitionOf: (keys, n) => `ABS(MOD(${fingerprint(keys)}, ${n}))`,
    literal,
  };
}

/**
 * BigQuery (GoogleSQL). The row hash is FARM_FINGERPRINT of the row's JSON text (INT64).
 * The state dataset is created in the source's location. The pending table is clustered by
 * partition (a partition's read prunes to its blocks) and expires after 7 days should a
 * run die before dropping it. The advance is one MERGE, atomic on its own. Parameters are
 * named @p1, @p2… in the order of each statement's `params`.
 */
export function bigqueryWarehouseDialect(place: BigqueryPlace): WarehouseDiffDialect {
  const f = bigqueryFlavor(place);
  return {
    ensureState: (spec) => [
      { sql: `CREATE SCHEMA IF NOT EXISTS ${q(place.project)}.${q(spec.stateSchema)}${place.location ? ` OPTIONS (location = ${literal(place.location)})` : ''}` },
      { sql: `CREATE TABLE IF NOT EXISTS ${f.table(spec, 'meta')} (fingerprint STRING, updated_at TIMESTAMP)` },
    ],
    readMeta: (spec) => ({ sql: `SELECT fingerprint FROM ${f.table(spec, 'meta')} LIMIT 1` }),
    writeMeta: (spec, fp) => [
      fp === null
        ? { sql: `CREATE OR REPLACE TABLE ${f.table(spec, 'meta')} AS SELECT CAST(NULL AS STRING) AS fingerprint, CURRENT_TIMESTAMP() AS updated_at` }
        : { sql: `CREATE OR REPLACE TABLE ${f.table(spec, 'meta')} AS SELECT @p1 AS fingerprint, CURRENT_TIMESTAMP() AS updated_at`, params: [fp] },
    ],
    diff(spec, { isFull }) {
      // COUNT(*) of a table is answered from metadata (no bytes billed); of a query model it
      // reads only what the query's filters need.
      const snapshotRows = isFull ? '0' : `(SELECT COUNT(*) FROM ${f.table(spec, 'snapshot')})`;
      return [
        {
          sql: `CREATE OR REPLACE TABLE ${f.table(spec, 'pending')}
CLUSTER BY ${PENDING_PART}
OPTIONS (expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 7 DAY))
AS WITH m AS (${modelHashSql(spec, f)}),
j AS (${classifiedSql(spec, f, isFull, 'CAST(NULL AS INT64)')})
${pendingRowsSql(spec, f)}`,
        },
        { sql: `SELECT (SELECT COUNT(*) FROM ${f.relation(spec.model)}) AS read, ${snapshotRows} AS snapshot_rows` },
      ];
    },
    pendingCounts: (spec) => ({ sql: pendingCountsSql(spec, f) }),
    pendingKeyProblems: (spec) => ({ sql: pendingKeyProblemsSql(spec, f) }),
    duplicateKeys: (spec) => ({ sql: duplicateKeysSql(spec, f, (keys) => `TO_JSON_STRING(STRUCT(${keys.join(', ')}))`) }),
    readPartition: (spec, part, kinds) => ({ sql: readPartitionSql(spec, f, '@p1', kinds), params: [part] }),
    resetSnapshot: (spec) => [{ sql: `CREATE OR REPLACE TABLE ${f.table(spec, 'snapshot')} AS ${snapshotShapeSql(spec, f)} LIMIT 0` }],
    advance: (spec, a) => [
      {
        sql: mergeAdvanceSql(spec, f, a, { part: '@p1', rejected: '@p2', rejectedRemoved: '@p3' }, (list) => `${PENDING_PN} NOT IN UNNEST(${list})`),
        params: [a.part, a.rejected, a.rejectedRemoved],
      },
    ],
    dropPending: (spec) => [{ sql: `DROP TABLE IF EXISTS ${f.table(spec, 'pending')}` }],
  };
}
