import { describe, expect, it } from 'vitest';
import { rowAlignedPieces, type RowPiece } from '../../src/destinations/row-aligned-pieces.js';

/** The rows as encoded text, cut into chunks of the given sizes (cycled). */
function cut(text: string, sizes: number[]): Buffer[] {
  const all = Buffer.from(text);
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < all.length; i++) {
    const n = Math.max(0, sizes[i % sizes.length]);
    out.push(all.subarray(at, at + n));
    at += n;
  }
  return out;
}

async function pieces(chunks: Buffer[], minBytes: number): Promise<RowPiece[]> {
  const out: RowPiece[] = [];
  for await (const p of rowAlignedPieces((async function* () { yield* chunks; })(), minBytes)) out.push(p);
  return out;
}

const rows = Array.from({ length: 500 }, (_, i) => `${i + 1}\t${'x'.repeat((i * 37) % 90)}\tend`);
const text = rows.join('\n') + '\n';

describe('rowAlignedPieces', () => {
  it.each([
    ['1-byte chunks', [1]],
    ['chunks ending mid-line', [7, 13, 101]],
    ['chunks larger than a piece', [5000]],
    ['an empty chunk between others', [0, 64]],
    ['chunks ending exactly on a row boundary', rows.map((r) => Buffer.byteLength(r) + 1)],
  ])('%s: every piece ends on a row boundary, the rows come out whole and in order, line offsets add up', async (_name, sizes) => {
    const out = await pieces(cut(text, sizes), 256);
    expect(out.length).toBeGreaterThan(3);
    let offset = 0;
    const seen: string[] = [];
    for (const p of out) {
      const body = Buffer.concat(p.parts).toString();
      expect(body.endsWith('\n')).toBe(true);
      expect(Buffer.byteLength(body)).toBe(p.bytes);
      const lines = body.slice(0, -1).split('\n');
      expect(p.lines).toBe(lines.length);
      // The first row of each piece is row offset + 1 of the whole stream.
      expect(lines[0]).toBe(rows[offset]);
      offset += p.lines;
      seen.push(...lines);
    }
    expect(seen).toEqual(rows);
    // Pieces are minBytes less the carried partial row at least, except the last.
    const widest = Math.max(...rows.map((r) => Buffer.byteLength(r) + 1));
    for (const p of out.slice(0, -1)) expect(p.bytes).toBeGreaterThan(256 - widest);
  });

  it('a row wider than a piece stays whole; a last line without a newline is kept', async () => {
    const wide = `1\t${'w'.repeat(1000)}\n2\tb\n3\tc`;
    const out = await pieces(cut(wide, [100]), 256);
    expect(out.map((p) => Buffer.concat(p.parts).toString())).toEqual([`1\t${'w'.repeat(1000)}\n2\tb\n`, '3\tc']);
    expect(out[0].lines).toBe(2);
  });
});
