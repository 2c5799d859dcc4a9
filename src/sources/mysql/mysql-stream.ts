import type mysql from 'mysql2';
import type { Batch, Schema, Value } from '../../types/logical-type.js';
import { CancelledError, SchemaMismatchError } from '../../errors.js';
import { classifyMysqlError, getConnection, setUtcSession } from './mysql-connection.js';
import { mysqlValueConverter, type MysqlDriverValue } from './mysql-values.js';

export interface MysqlRead {
  selectSql: string;
  params: mysql.ExecuteValues;
  schema: Schema;
  batchSize: number;
  signal?: AbortSignal;
}

/**
 * Streams a SELECT row by row from the server into batches. The driver stream pauses the
 * socket when its buffer is full, so a slow destination slows the read instead of
 * growing memory. The statement is prepared (binary protocol), so the cursor value
 * is a bound parameter and FLOAT arrives as its exact float32 value.
 */
export async function* streamMysqlRows(pool: mysql.Pool, read: MysqlRead): AsyncIterable<Batch> {
  const conn = await getConnection(pool);
  let isDone = false;
  try {
    await setUtcSession(conn);
    const converters = read.schema.columns.map((c) => mysqlValueConverter(c.name, c.type));
    const stream = conn
      .execute({ sql: read.selectSql, rowsAsArray: true }, read.params)
      .stream({ highWaterMark: Math.min(read.batchSize, 10_000) });
    let fieldsError: Error | undefined;
    stream.once('fields', (fields: mysql.FieldPacket[]) => {
      fieldsError = checkColumns(fields, read.schema);
      if (fieldsError) stream.destroy(fieldsError);
    });
    let rows: Value[][] = [];
    for await (const raw of stream as AsyncIterable<MysqlDriverValue[]>) {
      const row = new Array<Value>(converters.length);
      for (let i = 0; i < converters.length; i++) row[i] = converters[i](raw[i]);
      rows.push(row);
      if (rows.length >= read.batchSize) {
        if (read.signal?.aborted) throw new CancelledError('mysql source: read cancelled');
        yield { rows };
        rows = [];
      }
    }
    if (fieldsError) throw fieldsError;
    if (rows.length > 0) yield { rows };
    isDone = true;
  } catch (e) {
    throw classifyMysqlError(e, 'reading the model');
  } finally {
    // A read stopped early still has rows in flight on this connection; only a
    // finished one can go back to the pool.
    if (isDone) conn.release();
    else conn.destroy();
  }
}

function checkColumns(fields: mysql.FieldPacket[], schema: Schema): Error | undefined {
  const found = fields.map((f) => f.name);
  const expected = schema.columns.map((c) => c.name);
  if (found.length === expected.length && found.every((name, i) => name === expected[i])) return undefined;
  return new SchemaMismatchError(
    `mysql source: the model's columns changed while reading: expected (${expected.join(', ')}), found (${found.join(', ')})`,
  );
}
