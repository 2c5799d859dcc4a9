/**
 * Whether two JSON texts hold the same JSON value, whatever spacing and key order each
 * database keeps (Postgres jsonb reorders keys by length and respaces; json and DuckDB keep
 * the text as written). Numbers compare as JavaScript numbers, so digits beyond double
 * precision are not told apart. Text that is not JSON compares by its characters.
 */
export function isSameJson(a: string, b: string): boolean {
  if (a === b) return true;
  let x: unknown;
  let y: unknown;
  try {
    x = JSON.parse(a);
    y = JSON.parse(b);
  } catch {
    return false;
  }
  return isSameValue(x, y);
}

function isSameValue(x: unknown, y: unknown): boolean {
  if (x === y) return true;
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
  if (Array.isArray(x)) {
    if (!Array.isArray(y) || x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!isSameValue(x[i], y[i])) return false;
    return true;
  }
  if (Array.isArray(y)) return false;
  const xo = x as Record<string, unknown>;
  const yo = y as Record<string, unknown>;
  const keys = Object.keys(xo);
  if (keys.length !== Object.keys(yo).length) return false;
  for (const k of keys) if (!Object.hasOwn(yo, k) || !isSameValue(xo[k], yo[k])) return false;
  return true;
}
