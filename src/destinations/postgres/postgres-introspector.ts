import type { TargetTable } from '../destination.js';
import type { PgSession } from './pg-session.js';
import { logicalFromPgTypeName } from './postgres-column-types.js';

export interface TableName {
  schema: string;
  name: string;
}

/** `crm.accounts` → {crm, accounts}; an unqualified name lands in the session's current schema. */
export async function resolveTableName(session: PgSession, table: string): Promise<TableName> {
  const dot = table.indexOf('.');
  if (dot > 0) return { schema: table.slice(0, dot), name: table.slice(dot + 1) };
  const r = await session.query<{ s: string }>('SELECT current_schema() AS s');
  return { schema: r.rows[0].s, name: table };
}

export function qualified(session: PgSession, t: TableName): string {
  return `${session.escapeIdentifier(t.schema)}.${session.escapeIdentifier(t.name)}`;
}

/** What the target table is today: columns with types, primary key and unique keys. */
export async function introspectTable(session: PgSession, t: TableName): Promise<TargetTable | undefined> {
  // The quoted name goes in as a parameter; to_regclass parses it without any SQL built from it.
  const ref = qualified(session, t);
  const cols = await session.query<{ name: string; type: string; nullable: boolean }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable
       FROM pg_attribute a
      WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [ref],
  );
  if (cols.rows.length === 0) {
    const exists = await session.query<{ e: boolean }>('SELECT to_regclass($1) IS NOT NULL AS e', [ref]);
    if (!exists.rows[0].e) return undefined;
  }
  const keys = await session.query<{ is_primary: boolean; cols: string }>(
    `SELECT i.indisprimary AS is_primary,
            array_to_json(array_agg(a.attname::text ORDER BY k.ord))::text AS cols
       FROM pg_index i
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
      GROUP BY i.indexrelid, i.indisprimary`,
    [ref],
  );
  const uniqueKeys = keys.rows.map((r) => JSON.parse(r.cols) as string[]);
  const primary = keys.rows.find((r) => r.is_primary);
  return {
    schema: t.schema,
    name: t.name,
    columns: cols.rows.map((c) => ({ name: c.name, typeName: c.type, type: logicalFromPgTypeName(c.type), nullable: c.nullable })),
    primaryKey: primary ? (JSON.parse(primary.cols) as string[]) : [],
    uniqueKeys,
  };
}
