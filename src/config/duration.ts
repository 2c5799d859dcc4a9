import { z } from 'zod';

/**
 * Durations in pipeline files. Their own module, imported by the pipeline schema and by
 * connector configs alike (a connector config imported from pipeline-schema.ts would be a
 * cycle: the schema imports every connector's config).
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Durations such as 500ms, 30s, 10m, 2h. */
export const duration = z
  .string()
  .regex(/^\d+(ms|s|m|h)$/, 'a duration such as 500ms, 30s, 10m or 2h')
  .transform(parseDuration)
  // Node timers hold at most 2^31-1 ms (about 24 days); a longer one would fire at once.
  .refine((ms) => ms <= MAX_TIMER_MS, 'at most 24 days (596h)');

/** Durations such as 500ms, 30s, 10m, 2h, and 7d (days, for lifetimes such as a Redis TTL rather than timers). */
export function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`not a duration: ${text}`);
  const n = Number(m[1]);
  return n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
}

