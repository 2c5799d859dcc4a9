import mysql from 'mysql2';
import type { Batch, Schema } from '../../types/logical-type.js';
import type { Model, ReadOptions, Source } from '../source.js';
import type { MysqlSourceConfig } from './mysql-config.js';
import { classifyMysqlError, createMysqlPool, getConnection, runQuery } from './mysql-connection.js';
import { describeMysqlRelation, mysqlRelationSql } from './mysql-relation.js';
import { streamMysqlRows } from './mysql-stream.js';

/** A MySQL or MariaDB database, read with streamed rows. */
export class MysqlSource implements Source {
  readonly kind = 'mysql';

  /** Takes its pool from outside; `closePool`, when given, ends it (and what came with it) on close(). */
  constructor(
    private readonly pool: mysql.Pool,
    private readonly closePool?: () => Promise<void>,
  ) {}

  static async open(config: MysqlSourceConfig, baseDir: string): Promise<MysqlSource> {
    const owned = await createMysqlPool(config, baseDir);
    return new MysqlSource(owned.pool, owned.close);
  }

  async describe(model: Model): Promise<Schema> {
    const conn = await getConnection(this.pool);
    try {
      return await describeMysqlRelation(conn, model);
    } catch (e) {
      throw classifyMysqlError(e, 'describing the model');
    } finally {
      conn.release();
    }
  }

  read(model: Model, schema: Schema, opts: ReadOptions): AsyncIterable<Batch> {
    const base = `SELECT * FROM ${mysqlRelationSql(model)}`;
    const read = { schema, batchSize: opts.batchSize, signal: opts.signal };
    const cursor = opts.cursor;
    if (cursor?.after === undefined) return streamMysqlRows(this.pool, { ...read, selectSql: base, params: [] });
    // The cursor value is a bound parameter of the prepared statement.
    const selectSql = `${base} WHERE ${mysql.escapeId(cursor.column, true)} > ?`;
    return streamMysqlRows(this.pool, { ...read, selectSql, params: [cursor.after] });
  }

  async execute(sql: string): Promise<void> {
    try {
      await runQuery(this.pool, sql);
    } catch (e) {
      throw classifyMysqlError(e, 'source action failed');
    }
  }

  async close(): Promise<void> {
    await this.closePool?.();
  }
}
