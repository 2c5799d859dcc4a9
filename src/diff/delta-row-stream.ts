import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quotedString, type DuckDBConnection, type DuckDBDataChunk, type DuckDBResult } from '@duckdb/node-api';
import { countLines, type DelimitedTextEncoding, type EncodedChunk, type RowStream } from '../destinations/destination.js';
import type { Column } from '../types/logical-type.js';
import { delimitedLineSql } from '../duckdb/delimited-text-sql.js';
import { pauseForTests } from '../test-hooks.js';

/** Bytes handed to the destination at a time: big enough to amortise a write, small enough to bound memory. */
const TARGET_CHUNK_BYTES = 1 << 20;

export interface RowStreamOptions {
  /**
   * A relation holding the same rows without row numbers, streamed when a destination
   * asks for all rows unnumbered (a full sync into an empty target), so the numbered
   * table need not be built at all (see computeDiff).
   */
  unnumbered?: string;
  /** Makes sure `table` exists before it is read (it may be built lazily). */
  ensureTable?: () => Promise<void>;
}

/**
 * Rows of a workspace table, rendered by DuckDB in the encoding the destination asked for
 * (one line per row), streamed as ~1 MiB buffers while the destination writes them.
 */
export function tableRowStream(
  connection: DuckDBConnection,
  table: string,
  count: number,
  columns: Column[],
  encoding: DelimitedTextEncoding,
  opts: RowStreamOptions = {},
): RowStream {
  const renderRow = (withRn: boolean) => delimitedLineSql(columns, encoding, withRn ? '_rn' : undefined);
  const numbered = async function* (sql: string, params?: bigint[]): AsyncIterable<EncodedChunk> {
    await opts.ensureTable?.();
    yield* streamRenderedLines(connection, sql, params);
  };
  return {
    count,
    all: (withRn) =>
      !withRn && opts.unnumbered
        ? streamRenderedLines(connection, `SELECT ${renderRow(false)} AS line FROM ${opts.unnumbered}`)
        : numbered(`SELECT ${renderRow(withRn)} AS line FROM ${table}`),
    range: (first, last, withRn) =>
      numbered(`SELECT ${renderRow(withRn)} AS line FROM ${table} WHERE _rn BETWEEN $1 AND $2 ORDER BY _rn`, [BigInt(first), BigInt(last)]),
  };
}

/**
 * Measured at 1M rows of the bench model (bench/): reading the rendered lines through the
 * DuckDB client costs more JS time than Postgres spends loading them, nearly all of it in
 * turning each line into a JS string (UTF-8 decode) and joining the strings again. So
 * where the OS has named pipes, DuckDB's own CSV writer writes the lines into a FIFO and
 * Node only forwards the bytes: no per-row work in JavaScript at all. The client path
 * stays as the fallback (no mkfifo, e.g. Windows).
 */
async function* streamRenderedLines(connection: DuckDBConnection, sql: string, params?: bigint[]): AsyncIterable<EncodedChunk> {
  const fifo = makeFifo();
  if (fifo) yield* streamLinesThroughFifo(connection, sql, fifo, params);
  else yield* streamLines(connection, sql, params);
}

/**
 * DuckDB COPYs still writing into a FIFO, per connection. A connection (or its instance)
 * closed while one of them runs aborts the process inside DuckDB, so whoever closes a
 * workspace settles them first: the read end is closed (DuckDB's next write fails) and
 * the statement is awaited.
 */
const inFlight = new WeakMap<DuckDBConnection, Set<{ stop: () => Promise<void>; done: Promise<unknown> }>>();

export async function settleRowStreams(connection: DuckDBConnection): Promise<void> {
  const writes = inFlight.get(connection);
  if (!writes) return;
  for (const w of [...writes]) {
    await w.stop().catch(() => undefined);
    await w.done;
  }
}

function makeFifo(): { path: string; dispose: () => void } | undefined {
  if (process.platform === 'win32' || process.env.OUTFLOW_NO_FIFO === '1') return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'outflow-rows-'));
  const path = join(dir, 'rows.fifo');
  const made = spawnSync('mkfifo', ['-m', '600', path]);
  const dispose = () => rmSync(dir, { recursive: true, force: true });
  if (made.status !== 0) {
    dispose();
    return undefined;
  }
  return { path, dispose };
}

/**
 * The lines are one VARCHAR column written with QUOTE '' — DuckDB then never quotes or
 * escapes a value, whatever it holds, so each line arrives byte for byte as rendered
 * (already COPY-escaped: it holds no newline or carriage return) followed by '\n'.
 *
 * threads = 1 for the statement: with more threads DuckDB's order-preserving writer
 * buffers finished chunks in memory whenever Postgres reads slower than DuckDB renders
 * (measured: peak RSS grows with the model, 1 GB at 5M rows); one thread renders faster
 * than one Postgres backend loads anyway, and leaves the other core to Postgres.
 *
 * Backpressure is the pipe's: when Postgres is slow, the destination stops pulling, the
 * FIFO fills (64 KiB) and DuckDB's write blocks. Memory stays at one chunk in flight.
 */
async function* streamLinesThroughFifo(
  connection: DuckDBConnection,
  sql: string,
  fifo: { path: string; dispose: () => void },
  params?: bigint[],
): AsyncIterable<EncodedChunk> {
  const threads = (await connection.runAndReadAll(`SELECT current_setting('threads') AS t`)).getRows()[0][0];
  await connection.run('SET threads = 1');
  const writing = connection
    .run(`COPY (${sql}) TO ${quotedString(fifo.path)} (FORMAT csv, HEADER false, QUOTE '', USE_TMP_FILE false)`, params)
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  let isOpen = false;
  void writing.then((e) => {
    // A statement that fails before opening the pipe (a binder error) would leave the
    // reader waiting for a writer forever: open and close the write end to give it EOF.
    if (e && !isOpen) void open(fifo.path, 'w').then((h) => h.close(), () => undefined);
  });
  let finished = false;
  // Opening the read end waits for DuckDB to open the write end (and vice versa).
  const reader = await open(fifo.path, 'r');
  isOpen = true;
  const entry = { stop: () => reader.close(), done: writing };
  const registry = inFlight.get(connection) ?? new Set();
  inFlight.set(connection, registry);
  registry.add(entry);
  try {
    let sent = 0;
    // Buffers the destination handed back (EncodedChunk.release) are filled again: a 5M-row
    // load is ~560 chunks of 1 MiB, and the garbage they left between collections was
    // ~25 MB of the process's peak RSS. A consumer that keeps its chunks gets fresh ones.
    const spare: Buffer[] = [];
    for (;;) {
      // One buffer per chunk, filled by successive reads (a pipe gives at most 64 KiB
      // at a time) and handed on whole: no copy. (fs.createReadStream allocates
      // highWaterMark bytes per read and copies each short read out of it; at 1 MiB
      // that was 16x the bytes in garbage, GC took a quarter of the process's time.)
      const buf = spare.pop() ?? Buffer.allocUnsafe(TARGET_CHUNK_BYTES);
      let size = 0;
      while (size < buf.length) {
        const { bytesRead } = await reader.read(buf, size, buf.length - size, null);
        if (bytesRead === 0) break;
        size += bytesRead;
      }
      if (size === 0) break;
      const bytes = size === buf.length ? buf : buf.subarray(0, size);
      let released = false;
      const release = () => {
        if (released || spare.length >= 4) return;
        released = true;
        spare.push(buf);
      };
      yield { rows: countLines(bytes), bytes, release };
      if (sent++ === 0) await pauseForTests('copy'); // crash tests: a COPY with rows already sent, not finished
      if (size < buf.length) break;
    }
    const error = await writing;
    if (error) throw error;
    finished = true;
  } finally {
    // Stopped early (the destination failed): closing the read end makes DuckDB's next
    // write fail (EPIPE), which ends its COPY; wait for that before the connection is reused.
    await reader.close().catch(() => undefined);
    if (!finished) await writing;
    registry.delete(entry);
    await connection.run(`SET threads = ${Number(threads)}`).catch(() => undefined);
    fifo.dispose();
  }
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
      await pauseForTests('copy'); // crash tests: a COPY with rows already sent, not finished
    }
  }
  if (rows > 0) yield { rows, bytes: Buffer.from(parts.join(''), 'utf8') };
}
