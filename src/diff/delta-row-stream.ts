import type { DuckDBConnection, DuckDBDataChunk, DuckDBResult } from '@duckdb/node-api';
import type { EncodedChunk, RowStream } from '../destinations/destination.js';

/** Bytes handed to the destination at a time: big enough to amortise a write, small enough to bound memory. */
const TARGET_CHUNK_BYTES = 1 << 20;

/**
 * Rows of a workspace table, rendered by DuckDB with the destination's row SQL (one
 * line per row), streamed as ~1 MiB buffers. The next DuckDB chunk is requested before the
 * current buffer is handed on, so DuckDB renders while the destination writes.
 */
export function tableRowStream(
  connection: DuckDBConnection,
  table: string,
  count: number,
  renderRow: (withRn: boolean) => string,
): RowStream {
  return {
    count,
    all: (withRn) => streamLines(connection, `SELECT ${renderRow(withRn)} AS line FROM ${table}`),
    range: (first, last, withRn) =>
      streamLines(connection, `SELECT ${renderRow(withRn)} AS line FROM ${table} WHERE _rn BETWEEN $1 AND $2 ORDER BY _rn`, [
        BigInt(first),
        BigInt(last),
      ]),
  };
}

async function* streamLines(connection: DuckDBConnection, sql: string, params?: bigint[]): AsyncIterable<EncodedChunk> {
  const result: DuckDBResult = await connection.stream(sql, params);
  let pending: Promise<DuckDBDataChunk | null> = result.fetchChunk();
  let parts: string[] = [];
  let size = 0;
  let rows = 0;
  for (;;) {
    const chunk = await pending;
    if (!chunk || chunk.rowCount === 0) break;
    pending = result.fetchChunk(); // read ahead while this chunk is joined and written
    const lines = chunk.getColumnValues(0) as string[];
    const text = lines.join('\n') + '\n';
    parts.push(text);
    size += text.length;
    rows += lines.length;
    if (size >= TARGET_CHUNK_BYTES) {
      yield { rows, bytes: Buffer.from(parts.join(''), 'utf8') };
      parts = [];
      size = 0;
      rows = 0;
    }
  }
  if (rows > 0) yield { rows, bytes: Buffer.from(parts.join(''), 'utf8') };
}
