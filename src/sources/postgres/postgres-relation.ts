import pg from 'pg';
import type { Column, Schema } from '../../types/logical-type.js';
import { logicalFromPgType } from '../../types/postgres-types.js';
import { SchemaMismatchError } from '../../errors.js';
import type { Model } from '../source.js';

/** A model as a parenthesised relation usable after FROM; table names may be schema-qualified. */
export function pgRelationSql(model: Model): string {
  if ('query' in model) return `(${model.query.trim().replace(/;\s*$/, '')}) AS model`;
  return `${model.table.split('.').map((part) => pg.escapeIdentifier(part)).join('.')} AS model`;
}

/**
 * Columns and logical types of a model without reading rows: the RowDescription of
 * `SELECT * … LIMIT 0` gives each column's type OID and typmod, and format_type names
 * them (numeric(38,9), timestamp(3) without time zone, text[]). Only catalog functions
 * that Redshift also has are used.
 */
export async function describePgRelation(client: pg.ClientBase, model: Model): Promise<Schema> {
  const probe = await client.query({ text: `SELECT * FROM ${pgRelationSql(model)} LIMIT 0`, rowMode: 'array' });
  const typeNames = new Map<string, string>();
  for (const f of probe.fields) {
    const key = `${f.dataTypeID}:${f.dataTypeModifier}`;
    if (!typeNames.has(key)) typeNames.set(key, await pgTypeName(client, f.dataTypeID, f.dataTypeModifier));
  }
  const notNull = 'table' in model ? await notNullColumns(client, probe.fields) : new Set<string>();
  const columns: Column[] = probe.fields.map((f) => {
    const typeName = typeNames.get(`${f.dataTypeID}:${f.dataTypeModifier}`) as string;
    const mapped = logicalFromPgType(typeName);
    if ('unsupported' in mapped) throw new SchemaMismatchError(`model column "${f.name}" (${typeName}): ${mapped.unsupported}`);
    return { name: f.name, type: mapped, nullable: !notNull.has(`${f.tableID}:${f.columnID}`) };
  });
  return { columns };
}

/** format_type's name for a column type; enums (and arrays of enums) read as text. */
async function pgTypeName(client: pg.ClientBase, oid: number, typmod: number): Promise<string> {
  const r = await client.query<{ type_name: string; typtype: string; elem_typtype: string | null }>(
    `SELECT pg_catalog.format_type($1::oid, $2::int4) AS type_name, t.typtype, e.typtype AS elem_typtype
       FROM pg_catalog.pg_type t
       LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem AND t.typlen = -1
      WHERE t.oid = $1::oid`,
    [oid, typmod],
  );
  const row = r.rows[0];
  if (!row) return `unknown type oid ${oid}`;
  if (row.typtype === 'e') return 'text';
  if (row.elem_typtype === 'e') return 'text[]';
  return row.type_name;
}

/**
 * Columns declared NOT NULL, as "tableOID:attnum". Only asked for table models: in a
 * query a NOT NULL column can still yield NULL (outer joins), so query columns stay nullable.
 */
async function notNullColumns(client: pg.ClientBase, fields: pg.FieldDef[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const tableId of new Set(fields.map((f) => f.tableID).filter((id) => id !== 0))) {
    const r = await client.query<{ attnum: number }>(
      'SELECT attnum FROM pg_catalog.pg_attribute WHERE attrelid = $1::oid AND attnotnull AND attnum > 0',
      [tableId],
    );
    for (const row of r.rows) out.add(`${tableId}:${row.attnum}`);
  }
  return out;
}
