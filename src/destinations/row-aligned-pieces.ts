import { countLines, type EncodedChunk } from './destination.js';

/** A run of encoded rows that ends on a row boundary (only the stream's last piece may not). */
export interface RowPiece {
  parts: Buffer[];
  bytes: number;
  /** Newline-terminated rows in the piece: the line offset of the next piece's first row. */
  lines: number;
}

/**
 * Regroups encoded chunks (one row per line) into pieces of at least `minBytes` that end
 * on a row boundary. Readers hand on buffers of a fixed size that may end mid-line, and a
 * destination that loads the rows in several statements (PGlite's COPY from a Blob, a
 * LOAD DATA per piece) would otherwise cut a row in two: half of it read as a short row in
 * one statement, the rest as a broken row in the next, and a good row rejected. The tail
 * after the last newline is carried into the next piece as a view of the same buffer (no
 * copy), so the chunks must not be handed back (EncodedChunk.release) while pieces use them.
 */
export async function* rowAlignedPieces(
  chunks: AsyncIterable<Buffer | Pick<EncodedChunk, 'bytes'>>,
  minBytes: number,
): AsyncIterable<RowPiece> {
  let parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : chunk.bytes;
    if (bytes.length === 0) continue;
    parts.push(bytes);
    size += bytes.length;
    if (size < minBytes) continue;
    // A row wider than the piece keeps the piece growing until its newline arrives.
    const nl = bytes.lastIndexOf(10);
    if (nl === -1) continue;
    const tail = bytes.subarray(nl + 1);
    parts[parts.length - 1] = bytes.subarray(0, nl + 1);
    yield piece(parts, size - tail.length);
    parts = tail.length > 0 ? [tail] : [];
    size = tail.length;
  }
  if (size > 0) yield piece(parts, size);
}

function piece(parts: Buffer[], bytes: number): RowPiece {
  let lines = 0;
  for (const p of parts) lines += countLines(p);
  return { parts, bytes, lines };
}
