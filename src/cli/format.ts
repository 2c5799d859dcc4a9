import type { Value } from '../types/logical-type.js';
import type { RowCounts } from '../state/run-result.js';

export function formatValue(v: Value): string {
  if (v === null) return 'NULL';
  if (v instanceof Uint8Array) return `\\x${Buffer.from(v).toString('hex')}`;
  if (Array.isArray(v)) return `[${v.map(formatValue).join(', ')}]`;
  if (typeof v === 'string') return v.length > 40 ? JSON.stringify(v.slice(0, 37) + '…') : JSON.stringify(v);
  return String(v);
}

/** A small aligned text table. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function countsLine(c: Partial<RowCounts>): string {
  const parts: [string, number | undefined][] = [
    ['read', c.read],
    ['added', c.added],
    ['changed', c.changed],
    ['removed', c.removed],
    ['sent', c.sent],
    ['inserted', c.inserted],
    ['updated', c.updated],
    ['deleted', c.deleted],
    ['unchanged', c.unchanged],
    ['rejected', c.rejected],
  ];
  const line = parts.map(([k, v]) => `${k} ${v ?? 0}`);
  // Only when they happened (and older runs in history lack them).
  if (c.notSent) line.push(`changed but not sent ${c.notSent} (the mode never updates)`);
  if (c.leftModel) line.push(`left the model ${c.leftModel}, kept in the destination`);
  return line.join(' · ');
}

export function duration(ms: number | undefined): string {
  if (ms === undefined) return '-';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}
