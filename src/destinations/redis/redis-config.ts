import { z } from 'zod';
import { duration, parseDuration } from '../../config/duration.js';

/** A key's lifetime: 90s, 30m, 12h, 7d. */
const ttl = z
  .string()
  .regex(/^\d+(s|m|h|d)$/, 'a lifetime such as 90s, 30m, 12h or 7d')
  .transform(parseDuration)
  .refine((ms) => ms >= 1000, 'at least 1s');

/**
 * `destination: { type: redis, … }`. Secret fields are marked `.meta({ secret: true })`:
 * their values are registered for redaction when the pipeline is loaded and never shown.
 */
export const redisDestinationConfig = z.strictObject({
  type: z.literal('redis'),
  /** redis://host:6379/0, or rediss:// for TLS. A password belongs in `password` (from ${ENV}), not here. */
  url: z
    .string()
    .regex(/^rediss?:\/\/[^\s]+$/, 'a redis:// or rediss:// URL such as redis://127.0.0.1:6379/0')
    .meta({ secret: true }),
  /** ACL user (Redis 6+), e.g. ${REDIS_USER}. */
  username: z.string().min(1).optional(),
  password: z.string().min(1).meta({ secret: true }).optional(),
  /** CA certificate file for rediss:// with a private CA; relative to the pipeline file. */
  ca_file: z.string().min(1).optional(),
  /** The key of each row, with {column} placeholders naming primary key columns, e.g. customer:{id}. */
  key: z.string().regex(/\{[^{}]+\}/, 'a key template naming at least one column, e.g. customer:{id}'),
  /** hash: one HSET field per mapped column (values as text, NULL fields absent); json: one JSON string. */
  format: z.enum(['hash', 'json']).default('hash'),
  /** Keys expire this long after they were last written; absent: they never expire. */
  ttl: ttl.optional(),
  /** Rows per MULTI/EXEC: a batch is applied all-or-nothing. */
  batch_size: z.number().int().min(1).max(100_000).default(1000),
  /** format: json — int64 beyond ±2^53 and decimals as JSON strings (default) or numbers. */
  big_numbers: z.enum(['string', 'number']).default('string'),
  connect_timeout: duration.default(10_000),
});

export type RedisDestinationConfig = z.infer<typeof redisDestinationConfig>;

/** `redis 127.0.0.1:6379/0`: host, port and database, never a user or password. */
export function redisLabel(url: string): string {
  try {
    const u = new URL(url);
    return `redis${u.protocol === 'rediss:' ? ' (TLS)' : ''} ${u.hostname}:${u.port || 6379}/${u.pathname.replace(/^\//, '') || '0'}`;
  } catch {
    return 'redis';
  }
}


/** `redis 127.0.0.1:6379/0 customer:{id}`: where the keys go, without user or password. */
export function redisDestinationLabel(config: Pick<RedisDestinationConfig, 'url' | 'key'>): string {
  return `${redisLabel(config.url)} ${config.key}`;
}
