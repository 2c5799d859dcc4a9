import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import type { SslConfig } from './ssl-config.js';
import { ConfigError } from '../errors.js';

/**
 * libpq's sslmode vocabulary → Node TLS options, shared by every network source and destination.
 * `false` means a plain connection; `undefined` leaves the driver's default (and any
 * sslmode in the URL) in charge.
 */
export function tlsOptionsFor(ssl: SslConfig | undefined, baseDir: string, field: string): ConnectionOptions | false | undefined {
  if (!ssl) return undefined;
  const ca = ssl.ca_file ? readCa(resolve(baseDir, ssl.ca_file), `${field}.ca_file`) : undefined;
  switch (ssl.mode) {
    case 'disable':
      return false;
    case 'require':
      // Encrypted but unauthenticated, as in libpq.
      return { rejectUnauthorized: false };
    case 'verify-ca':
      // The chain must lead to the CA; the host name is not checked.
      return { ca, rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'verify-full':
      return { ca, rejectUnauthorized: true };
  }
}

function readCa(path: string, field: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${field}: cannot read CA certificate ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
