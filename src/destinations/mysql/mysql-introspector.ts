import type { TargetTable } from '../destination.js';
import { ConfigError } from '../../errors.js';
import type { MysqlSession } from './mysql-session.js';
import { logicalFromMysqlColumn } from './mysql-column-types.js';

/** A table in a MySQL database (MySQL's "schema" is the database). */
export interface TableName {
  schema: string;
  name: string;
}

/** `db.table` or `table` (in the database the URL names). */
export async function resolveTableName(session: MysqlSession, table: string): Promise<TableName> {
  const dot = table.indexOf('.');
  if (dot > 0) return { schema: table.slice(0, dot), name: table.slice(dot + 1) };
  const [row] = await session.query<{ db: string | null }>('SELECT DATABASE() AS db');
  if (!row.db) throw new ConfigError(`destination.table: ${table} names no database, and the URL names none: write it as database.table`);
  return { schema: row.db, name: table };
}

export function qualified(session: MysqlSession, t: TableName): string {
  return `${session.escapeId(t.schema)}.${session.escapeId(t.name)}`;
}

export interface MysqlTargetTable extends TargetTable {
  /** Columns filled by AUTO_INCREMENT: a unique key holding one can never be hit by a new row. */
  autoIncrement: string[];
}

/** The table as information_schema describes it, or undefined when it does not exist. */
export async function introspectTable(session: MysqlSession, t: TableName): Promise<MysqlTargetTable | undefined> {
  const cols = await session.query<{ name: string; type: string; nullable: string; extra: string }>(
    `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, EXTRA AS extra
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [t.schema, t.name],
  );
  if (cols.length === 0) return undefined;
  // MariaDB's JSON is LONGTEXT with a CHECK (json_valid(col)) constraint.
  const checks = await session
    .query<{ clause: string }>(
      `SELECT CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?`,
      [t.schema, t.name],
    )
    .catch(() => [] as { clause: string }[]); // MySQL before 8.0.16 has no such view
  const jsonColumns = new Set(checks.map((c) => /^json_valid\(`([^`]+)`\)$/i.exec(c.clause.trim())?.[1]).filter(Boolean));
  const indexes = await session.query<{ name: string; col: string }>(
    `SELECT INDEX_NAME AS name, COLUMN_NAME AS col FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX`,
    [t.schema, t.name],
  );
  const unique = new Map<string, string[]>();
  for (const i of indexes) unique.set(i.name, [...(unique.get(i.name) ?? []), i.col]);
  return {
    schema: t.schema,
    name: t.name,
    columns: cols.map((c) => {
      const isJson = jsonColumns.has(c.name);
      return {
        name: c.name,
        typeName: isJson ? 'json' : c.type,
        type: logicalFromMysqlColumn({ columnType: c.type, isJson }),
        nullable: c.nullable === 'YES',
      };
    }),
    primaryKey: unique.get('PRIMARY') ?? [],
    uniqueKeys: [...unique.values()],
    autoIncrement: cols.filter((c) => /auto_increment/i.test(c.extra)).map((c) => c.name),
  };
}
