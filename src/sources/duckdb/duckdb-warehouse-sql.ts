import { BIGINT, LIST, listValue, type DuckDBConnection, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import type { Batch, Schema } from '../../types/logical-type.js';
import { StateAccessError } from '../../errors.js';
import { streamBatches } from '../../duckdb/duckdb-relation.js';
import type { Statement, StatementParam, WarehouseDiffSpec, WarehouseSql } from '../warehouse-diff.js';

/** Runs the warehouse diff's statements on the DuckDB source's own connection (the file is the warehouse). */
export class DuckdbWarehouseSql implements WarehouseSql {
  constructor(private readonly connection: DuckDBConnection) {}

  stateLabel(spec: WarehouseDiffSpec): string {
    return `duckdb schema ${spec.stateSchema}`;
  }

  async run(statements: Statement[], opts: { transaction?: boolean } = {}): Promise<void> {
    if (!opts.transaction) {
      for (const s of statements) await this.connection.run(s.sql, params(s), types(s));
      return;
    }
    await this.connection.run('BEGIN TRANSACTION');
    try {
      for (const s of statements) await this.connection.run(s.sql, params(s), types(s));
      await this.connection.run('COMMIT');
    } catch (e) {
      await this.connection.run('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }

  async rows(statements: Statement[]): Promise<Record<string, unknown>[]> {
    for (const s of statements.slice(0, -1)) await this.connection.run(s.sql, params(s), types(s));
    const last = statements[statements.length - 1];
    return (await this.connection.runAndReadAll(last.sql, params(last), types(last))).getRowObjects();
  }

  stream(statement: Statement, schema: Schema, batchSize: number): AsyncIterable<Batch> {
    return streamBatches(this.connection, statement.sql, schema, batchSize, params(statement));
  }

  stateAccessError(e: unknown, spec: WarehouseDiffSpec): Error | undefined {
    if (!/read-only|read only/i.test((e as Error).message ?? '')) return undefined;
    return new StateAccessError(
      `duckdb source: diff: warehouse keeps its snapshot in schema "${spec.stateSchema}" of the source file, which is opened read_only; set source.read_only: false, or use diff: local`,
      { cause: e },
    );
  }
}

function params(s: Statement): DuckDBValue[] | undefined {
  return s.params?.map(toDuckdb);
}

/** Lists of row numbers are typed explicitly: an empty list has no item type to infer. */
function types(s: Statement): DuckDBType[] | undefined {
  // An undefined entry lets the client infer that parameter's type (its bind() takes it so).
  return s.params?.map((p) => (Array.isArray(p) ? LIST(BIGINT) : undefined)) as DuckDBType[] | undefined;
}

function toDuckdb(p: StatementParam): DuckDBValue {
  if (Array.isArray(p)) return listValue(p.map((n) => BigInt(n)));
  return p;
}
