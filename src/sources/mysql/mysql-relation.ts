import mysql from 'mysql2';
import type { Column, Schema } from '../../types/logical-type.js';
import { logicalFromMysql, MYSQL_FLAG, type MysqlColumnMeta } from '../../types/mysql-types.js';
import { SchemaMismatchError } from '../../errors.js';
import type { Model } from '../source.js';
import { runQuery } from './mysql-connection.js';

/** A model as a derived table usable after FROM; `db.table` names are quoted part by part. */
export function mysqlRelationSql(model: Model): string {
  if ('query' in model) return `(${model.query.trim().replace(/;\s*$/, '')}) AS m`;
  return `${model.table.split('.').map((part) => mysql.escapeId(part, true)).join('.')} AS m`;
}

/** Columns and logical types from the result metadata of `SELECT * … LIMIT 0` (no rows read). */
export async function describeMysqlRelation(conn: mysql.PoolConnection, model: Model): Promise<Schema> {
  const [, fields] = await runQuery(conn, `SELECT * FROM ${mysqlRelationSql(model)} LIMIT 0`);
  const columns: Column[] = fields.map((f) => {
    const meta = columnMeta(f);
    const mapped = logicalFromMysql(meta);
    if ('unsupported' in mapped) throw new SchemaMismatchError(`model column "${f.name}": ${mapped.unsupported}`);
    return { name: f.name, type: mapped, nullable: (meta.flags & MYSQL_FLAG.NOT_NULL) === 0 };
  });
  return { columns };
}

function columnMeta(f: mysql.FieldPacket): MysqlColumnMeta {
  return {
    name: f.name,
    columnType: f.columnType ?? f.type ?? -1,
    columnLength: f.columnLength ?? f.length ?? 0,
    decimals: f.decimals,
    flags: typeof f.flags === 'number' ? f.flags : 0,
    characterSet: f.characterSet ?? f.charsetNr ?? 0,
    extendedTypeName: f.extendedTypeName,
    extendedFormat: f.extendedFormat,
  };
}
