import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { redact, registerSecret, registerUrlSecrets } from '../../config/redact.js';
import { ConnectionError, OutflowError, TransientError } from '../../errors.js';
import { redisLabel, type RedisDestinationConfig } from './redis-config.js';

/**
 * An ioredis client for the destination, connected. rediss:// means TLS (with `ca_file`
 * for a private CA); username and password come from the config (${ENV}) or the URL and
 * are registered as secrets before anything can print them. Reconnection is bounded: a
 * lost server fails the batch in flight (a TransientError, so the run is retried) rather
 * than queueing commands forever.
 */
export async function connectRedis(config: RedisDestinationConfig, baseDir: string): Promise<Redis> {
  registerUrlSecrets(config.url);
  registerSecret(config.password);
  const label = redisLabel(config.url);
  const isTls = config.url.startsWith('rediss:');
  const client = new Redis(config.url, {
    username: config.username,
    password: config.password,
    tls: isTls ? (config.ca_file ? { ca: readFileSync(resolve(baseDir, config.ca_file)) } : {}) : undefined,
    lazyConnect: true,
    connectTimeout: config.connect_timeout,
    maxRetriesPerRequest: 2,
    retryStrategy: (times) => (times > 5 ? null : Math.min(times * 200, 2000)),
    enableOfflineQueue: true,
  });
  // Errors reach the caller through the command that failed; without a listener ioredis
  // would print each reconnection attempt's error as an unhandled 'error' event.
  let lastError: Error | undefined;
  client.on('error', (e: Error) => {
    lastError = e;
  });
  try {
    await client.connect();
    return client;
  } catch (e) {
    client.disconnect();
    // A refused AUTH reaches connect() as "Connection is closed."; the reason came as an 'error' event.
    const cause = lastError ?? (e as Error);
    throw new ConnectionError(`${label}: cannot connect: ${redact(cause.message)}`, { cause });
  }
}

/** A lost connection is worth a retry of the run; anything else Redis says is not. */
export function redisFault(label: string, what: string, e: unknown): Error {
  const message = redact((e as Error).message ?? String(e));
  const isTransient = /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|Connection is closed|MaxRetriesPerRequest|LOADING|BUSY|TRYAGAIN/i.test(message);
  return isTransient ? new TransientError(`${label}: ${what}: ${message}`, { cause: e }) : new OutflowError(`${label}: ${what}: ${message}`, { cause: e });
}
