/**
 * Exponential backoff with jitter: the cap is min(max, initial·2^(attempt-1)); the delay is
 * cap·(1 - jitter) plus a random share of cap·jitter. jitter 0 is a fixed schedule, 1 is
 * "full jitter" (anywhere in [0, cap]); the default 0.5 keeps at least half the cap so
 * retries never come back at once, while still spreading several workers apart.
 */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, jitter = 0.5): number {
  const cap = Math.min(maxMs, initialMs * 2 ** (attempt - 1));
  return Math.round(cap * (1 - jitter) + Math.random() * cap * jitter);
}

/** Waits ms, or less when the signal aborts (the caller checks the signal afterwards). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
