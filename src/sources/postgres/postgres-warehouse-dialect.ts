import pg from 'pg';
import type { AdvanceSpec, PendingKind, Statement, WarehouseDiffDialect, WarehouseDiffSpec } from '../warehouse-diff.js';
import { PENDING_HASH, PENDING_KIND, PENDING_PART, PENDING_PN } from '../warehouse-diff.js';
import {
  advancedRowsWhere,
  classifiedSql,
  duplicateKeysSql,
  modelHashSql,
  pendingColumns,
  pendingCountsSql,
  pendingKeyProblemsSql,
  pendingRowsSql,
  readPartitionSql,
  snapshotShapeSql,
  stateTableName,
  type SqlFlavor,
} from '../warehouse-diff-sql.js';
import { pgRelationSql } from './postgres-relation.js';

const q = pg.escapeIdentifier;

/**
 * Postgres as the warehouse. The row hash is md5 of the row's text form (stored as a
 * uuid, 16 bytes), which depends on session settings (TimeZone, DateStyle,
 * extra_float_digits…): the statements run under PG_TEXT_SESSION_SETTINGS, so every run
 * hashes alike. The snapshot has the key as its primary key (the advance is an
 * INSERT … ON CONFLICT, which every supported Postgres has; MERGE needs 15). The pending
 * table is UNLOGGED: it is rebuilt by every run, so it need not survive a crash.
 */
export const postgresFlavor: SqlFlavor = {
  q,
  table: (spec, role) => `${q(spec.stateSchema)}.${q(stateTableName(spec, role))}`,
  relation: (model) => pgRelationSql(model),
  rowHash: (exprs) => `md5(ROW(${exprs.join(', ')})::text)::uuid`,
  partitionOf: (keys, n) => `(abs(hashtext(ROW(${keys.join(', ')})::text)::bigint) % ${n})::integer`,
  literal: (text) => pg.escapeLiteral(text),
};

export const postgresWarehouseDialect: WarehouseDiffDialect = {
  ensureState(spec) {
    const f = postgresFlavor;
    // CREATE SCHEMA IF NOT EXISTS checks the database privilege even when the schema exists,
    // so a user who may use an existing schema but not create one would be refused.
    return [
      {
        sql: `DO $outflow$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = ${f.literal(spec.stateSchema)}) THEN
    CREATE SCHEMA ${q(spec.stateSchema)};
  END IF;
END $outflow$`,
      },
      { sql: `CREATE TABLE IF NOT EXISTS ${f.table(spec, 'meta')} (fingerprint text, updated_at timestamptz)` },
    ];
  },

  readMeta: (spec) => ({ sql: `SELECT fingerprint FROM ${postgresFlavor.table(spec, 'meta')} LIMIT 1` }),

  writeMeta(spec, fingerprint) {
    const meta = postgresFlavor.table(spec, 'meta');
    return [{ sql: `DELETE FROM ${meta}` }, { sql: `INSERT INTO ${meta} (fingerprint, updated_at) VALUES ($1, now())`, params: [fingerprint] }];
  },

  diff(spec, { isFull }) {
    const f = postgresFlavor;
    const pending = f.table(spec, 'pending');
    const m = modelHashSql(spec, f);
    // One statement: the data-modifying CTE fills the pending table while the outer query
    // counts model rows from the same join (no second pass over the model). Snapshot rows
    // are counted apart: a key the model holds twice meets its snapshot row twice in the join.
    const snapshotRows = isFull ? '0' : `(SELECT count(*) FROM ${f.table(spec, 'snapshot')})`;
    return [
      { sql: `DROP TABLE IF EXISTS ${pending}` },
      {
        sql: `CREATE UNLOGGED TABLE ${pending} AS
  SELECT m.*, ''::text AS ${PENDING_KIND}, 0::integer AS ${PENDING_PART}, 0::bigint AS ${PENDING_PN} FROM (${m}) AS m WITH NO DATA`,
      },
      // Each partition is read and advanced on its own (by workers, at once): an index keeps
      // that from scanning every partition's rows each time (measured at 2M rows and 12
      // partitions). Made before the INSERT: the rows of the last statement are the counts.
      ...(spec.partitions > 1 ? [{ sql: `CREATE INDEX ON ${pending} (${PENDING_PART}, ${PENDING_PN})` }] : []),
      {
        sql: `WITH m AS (${m}),
j AS (${classifiedSql(spec, f, isFull, 'NULL::uuid')}),
p AS (INSERT INTO ${pending} (${pendingColumns(spec, f)}) ${pendingRowsSql(spec, f)} RETURNING 1)
SELECT count(${PENDING_HASH}) AS read, ${snapshotRows} AS snapshot_rows FROM j`,
      },
    ];
  },

  pendingCounts: (spec) => ({ sql: pendingCountsSql(spec, postgresFlavor) }),
  pendingKeyProblems: (spec) => ({ sql: pendingKeyProblemsSql(spec, postgresFlavor) }),
  duplicateKeys: (spec) => ({ sql: duplicateKeysSql(spec, postgresFlavor, (keys) => `ROW(${keys.join(', ')})::text`) }),
  readPartition: (spec, part, kinds: PendingKind[]) => ({ sql: readPartitionSql(spec, postgresFlavor, '$1', kinds), params: [part] }),

  resetSnapshot(spec) {
    const f = postgresFlavor;
    const snapshot = f.table(spec, 'snapshot');
    return [
      { sql: `DROP TABLE IF EXISTS ${snapshot}` },
      { sql: `CREATE TABLE ${snapshot} AS ${snapshotShapeSql(spec, f)} WITH NO DATA` },
      { sql: `ALTER TABLE ${snapshot} ADD PRIMARY KEY (${spec.keys.map(q).join(', ')})` },
    ];
  },

  advance(spec, a: AdvanceSpec): Statement[] {
    const f = postgresFlavor;
    const snapshot = f.table(spec, 'snapshot');
    const pending = f.table(spec, 'pending');
    const keys = spec.keys.map(q).join(', ');
    const notIn = (list: string) => `NOT (${PENDING_PN} = ANY(${list}::bigint[]))`;
    const sent = advancedRowsWhere(f, '$1', a.sentKinds, notIn, '$2', '$2', false);
    const out: Statement[] = [
      {
        sql: `INSERT INTO ${snapshot} (${keys}, ${PENDING_HASH}) SELECT ${keys}, ${PENDING_HASH} FROM ${pending} WHERE ${sent}
  ON CONFLICT (${keys}) DO UPDATE SET ${PENDING_HASH} = EXCLUDED.${PENDING_HASH}`,
        params: [a.part, a.rejected],
      },
    ];
    if (a.forgetRemoved) {
      out.push({
        sql: `DELETE FROM ${snapshot} AS s USING ${pending} AS p
  WHERE p.${PENDING_PART} = $1 AND p.${PENDING_KIND} = 'r' AND NOT (p.${PENDING_PN} = ANY($2::bigint[])) AND ${spec.keys.map((k) => `s.${q(k)} = p.${q(k)}`).join(' AND ')}`,
        params: [a.part, a.rejectedRemoved],
      });
    }
    return out;
  },

  dropPending: (spec) => [{ sql: `DROP TABLE IF EXISTS ${postgresFlavor.table(spec, 'pending')}` }],
};
