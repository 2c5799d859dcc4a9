import pg from 'pg';
import type { Batch, Schema } from '../../types/logical-type.js';
import { StateAccessError } from '../../errors.js';
import type { Statement, WarehouseDiffSpec, WarehouseSql } from '../warehouse-diff.js';
import { classifyPgError } from './postgres-connection.js';
import { applyTextSettings, streamPgCursor } from './postgres-cursor.js';

/** Postgres' "insufficient_privilege". */
const INSUFFICIENT_PRIVILEGE = '42501';

/**
 * Runs the warehouse diff's statements on the source's pool. Every session gets the text
 * settings first: the row hash is computed from the row's text form.
 */
export class PostgresWarehouseSql implements WarehouseSql {
  constructor(
    private readonly pool: pg.Pool,
    private readonly user: string | undefined,
  ) {}

  stateLabel(spec: WarehouseDiffSpec): string {
    return `postgres schema ${spec.stateSchema}`;
  }

  async run(statements: Statement[], opts: { transaction?: boolean } = {}): Promise<void> {
    await this.session(statements, opts.transaction ?? false);
  }

  async rows(statements: Statement[]): Promise<Record<string, unknown>[]> {
    return this.session(statements, false);
  }

  stream(statement: Statement, schema: Schema, batchSize: number, signal?: AbortSignal): AsyncIterable<Batch> {
    return streamPgCursor(this.pool, { selectSql: statement.sql, params: statement.params ?? [], schema, batchSize, fetchSize: batchSize, signal });
  }

  stateAccessError(e: unknown, spec: WarehouseDiffSpec): Error | undefined {
    const err = (e as { cause?: unknown }).cause ?? e;
    if ((err as { code?: string }).code !== INSUFFICIENT_PRIVILEGE) return undefined;
    const who = this.user ?? 'the source user';
    const message = (err as Error).message;
    const schema = spec.stateSchema;
    if (/for database/.test(message)) {
      return new StateAccessError(
        `postgres source: diff: warehouse keeps its snapshot in schema "${schema}", which does not exist, and ${who} may not create it (${message}); ` +
          `GRANT CREATE ON DATABASE to ${who}, or create the schema and GRANT USAGE, CREATE ON SCHEMA ${schema} TO ${who}`,
        { cause: e },
      );
    }
    return new StateAccessError(
      `postgres source: diff: warehouse keeps its snapshot in schema "${schema}", and ${who} lacks a privilege there (${message}); ` +
        `GRANT USAGE, CREATE ON SCHEMA ${schema} TO ${who}`,
      { cause: e },
    );
  }

  private async session(statements: Statement[], isTransaction: boolean): Promise<Record<string, unknown>[]> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw classifyPgError(e, 'cannot connect');
    }
    let isBroken = false;
    try {
      await applyTextSettings(client);
      if (isTransaction) await client.query('BEGIN');
      let rows: Record<string, unknown>[] = [];
      for (const s of statements) rows = (await client.query(s.sql, s.params ?? [])).rows;
      if (isTransaction) await client.query('COMMIT');
      return rows;
    } catch (e) {
      if (isTransaction) await client.query('ROLLBACK').catch(() => (isBroken = true));
      throw classifyPgError(e, 'warehouse diff');
    } finally {
      client.release(isBroken);
    }
  }
}
