/** Exponential backoff with full jitter: a random delay in [0, min(max, initial·2^(attempt-1))]. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  const cap = Math.min(maxMs, initialMs * 2 ** (attempt - 1));
  return Math.round(cap / 2 + (Math.random() * cap) / 2);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
