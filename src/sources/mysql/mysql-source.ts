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

  /** Takes its pool from outside; `isPoolOwned` says whether close() ends it. */
  constructor(
    private readonly pool: mysql.Pool,
    private readonly isPoolOwned = false,
  ) {}

  static open(config: MysqlSourceConfig, baseDir: string): MysqlSource {
    return new MysqlSource(createMysqlPool(config, baseDir), true);
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
    if (!this.isPoolOwned) return;
    await new Promise<void>((resolve) => this.pool.end(() => resolve()));
  }
}
