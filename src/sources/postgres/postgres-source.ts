import pg from 'pg';
import type { Batch, Schema } from '../../types/logical-type.js';
import type { Model, ReadOptions, Source } from '../source.js';
import type { PostgresSourceConfig } from './postgres-config.js';
import { classifyPgError, createPgPool } from './postgres-connection.js';
import { describePgRelation, pgRelationSql } from './postgres-relation.js';
import { streamPgCursor } from './postgres-cursor.js';
import type { WarehouseDiff } from '../warehouse-diff.js';
import { postgresWarehouseDialect } from './postgres-warehouse-dialect.js';
import { PostgresWarehouseSql } from './postgres-warehouse-sql.js';

export interface PostgresSourceOptions {
  /** Rows per FETCH; defaults to each read's batch size. */
  fetchSize?: number;
  /** Ends the pool (and what came with it) on close(), when the source created it. */
  closePool?: () => Promise<void>;
  /** The user the pool connects as, named in errors about missing privileges. */
  user?: string;
}

/**
 * A Postgres (or Redshift-compatible) warehouse. Reads stream through a server-side
 * cursor; values are parsed from Postgres text form by types/postgres-text-values.ts.
 */
export class PostgresSource implements Source {
  readonly kind = 'postgres';
  readonly warehouseDiff: WarehouseDiff;

  /** Takes its pool from outside, so tests and other callers can hand in their own. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly options: PostgresSourceOptions = {},
  ) {
    this.warehouseDiff = { dialect: postgresWarehouseDialect, sql: new PostgresWarehouseSql(pool, options.user) };
  }

  static async open(config: PostgresSourceConfig, baseDir: string): Promise<PostgresSource> {
    const owned = await createPgPool(config, baseDir);
    return new PostgresSource(owned.pool, { fetchSize: config.fetch_size, closePool: owned.close, user: userOf(config.url) });
  }

  async describe(model: Model): Promise<Schema> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw classifyPgError(e, 'cannot connect');
    }
    try {
      return await describePgRelation(client, model);
    } catch (e) {
      throw classifyPgError(e, 'describing the model');
    } finally {
      client.release();
    }
  }

  read(model: Model, schema: Schema, opts: ReadOptions): AsyncIterable<Batch> {
    const base = `SELECT * FROM ${pgRelationSql(model)}`;
    const read = {
      schema,
      batchSize: opts.batchSize,
      fetchSize: Math.min(this.options.fetchSize ?? opts.batchSize, opts.batchSize),
      signal: opts.signal,
    };
    const cursor = opts.cursor;
    if (cursor?.after === undefined) return streamPgCursor(this.pool, { ...read, selectSql: base, params: [] });
    // The cursor value is a bound parameter, typed by the column it is compared with.
    const selectSql = `${base} WHERE ${pg.escapeIdentifier(cursor.column)} > $1`;
    return streamPgCursor(this.pool, { ...read, selectSql, params: [cursor.after] });
  }

  async execute(sql: string): Promise<void> {
    try {
      await this.pool.query(sql);
    } catch (e) {
      throw classifyPgError(e, 'source action failed');
    }
  }

  async close(): Promise<void> {
    await this.options.closePool?.();
  }
}

/** The user name in a postgres:// URL, if it names one. */
function userOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return decodeURIComponent(new URL(url).username) || undefined;
  } catch {
    return undefined;
  }
}
