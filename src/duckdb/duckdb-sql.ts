import { quotedIdentifier } from '@duckdb/node-api';

/** A DuckDB select list of these columns, quoted with DuckDB's own escaping (optionally qualified by `alias`). */
export function columnList(names: string[], alias?: string): string {
  return names.map((n) => (alias ? `${alias}.${quotedIdentifier(n)}` : quotedIdentifier(n))).join(', ');
}
