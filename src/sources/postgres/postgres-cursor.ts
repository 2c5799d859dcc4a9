import pg from 'pg';
import type { Batch, Schema, Value } from '../../types/logical-type.js';
import { parsePgText, PG_TEXT_SESSION_SETTINGS } from '../../types/postgres-text-values.js';
import { CancelledError, SchemaMismatchError, TransientError } from '../../errors.js';
import { classifyPgError } from './postgres-connection.js';

/** Hands every value to us as the server's text, so int8, numeric and timestamps stay exact. */
const RAW_TEXT: pg.CustomTypesConfig = { getTypeParser: () => (value: string) => value };
const CURSOR = 'outflow_read';

export interface CursorRead {
  selectSql: string;
  params: unknown[];
  schema: Schema;
  batchSize: number;
  /** Rows per FETCH; batches are filled from as many FETCHes as needed. */
  fetchSize: number;
  signal?: AbortSignal;
}

/**
 * Streams a SELECT through a server-side cursor (DECLARE … CURSOR in a read-only
 * transaction, then FETCH n), so memory holds one batch, never the whole model.
 */
export async function* streamPgCursor(pool: pg.Pool, read: CursorRead): AsyncIterable<Batch> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (e) {
    throw classifyPgError(e, 'cannot connect');
  }
  let isInTransaction = false;
  let isBroken = false;
  try {
    await applyTextSettings(client);
    await client.query('BEGIN READ ONLY');
    isInTransaction = true;
    await client.query({ text: `DECLARE ${CURSOR} CURSOR FOR ${read.selectSql}`, values: read.params });
    const { columns } = read.schema;
    let rows: Value[][] = [];
    let isChecked = false;
    for (;;) {
      if (read.signal?.aborted) throw new CancelledError('postgres source: read cancelled');
      const r = await client.query({ text: `FETCH FORWARD ${read.fetchSize} FROM ${CURSOR}`, rowMode: 'array', types: RAW_TEXT });
      if (!isChecked) {
        checkColumns(r.fields, read.schema);
        isChecked = true;
      }
      for (const raw of r.rows as (string | null)[][]) {
        const row = new Array<Value>(columns.length);
        for (let i = 0; i < columns.length; i++) row[i] = parsePgText(raw[i], columns[i].type);
        rows.push(row);
      }
      if (rows.length >= read.batchSize) {
        yield { rows };
        rows = [];
      }
      if (r.rows.length < read.fetchSize) break;
    }
    if (rows.length > 0) yield { rows };
    await client.query('COMMIT');
    isInTransaction = false;
  } catch (e) {
    const failure = classifyPgError(e, 'reading the model');
    isBroken = failure instanceof TransientError;
    throw failure;
  } finally {
    // Also reached when the consumer stops early: end the transaction (closing the
    // cursor) before the client goes back to the pool; a broken client is discarded.
    if (isInTransaction) {
      try {
        await client.query('ROLLBACK');
      } catch {
        isBroken = true;
      }
    }
    client.release(isBroken);
  }
}

/** Session settings under which parsePgText reads the output; a server without a setting (Redshift) keeps its default. */
export async function applyTextSettings(client: pg.ClientBase): Promise<void> {
  for (const [name, value] of PG_TEXT_SESSION_SETTINGS) {
    try {
      await client.query(`SELECT pg_catalog.set_config($1, $2, false)`, [name, value]);
    } catch (e) {
      if (name === 'TimeZone') throw e; // timestamptz must print in UTC
    }
  }
}

/** The model may have changed since describe; reading it under the old schema would mislabel values. */
function checkColumns(fields: pg.FieldDef[], schema: Schema): void {
  const found = fields.map((f) => f.name);
  const expected = schema.columns.map((c) => c.name);
  if (found.length !== expected.length || found.some((name, i) => name !== expected[i])) {
    throw new SchemaMismatchError(
      `postgres source: the model's columns changed while reading: expected (${expected.join(', ')}), found (${found.join(', ')})`,
    );
  }
}
