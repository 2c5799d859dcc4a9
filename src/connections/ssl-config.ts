import { z } from 'zod';

/** TLS, in libpq's sslmode vocabulary; used by every network connector (sources and destinations). */
export const sslConfig = z.strictObject({
  mode: z.enum(['disable', 'require', 'verify-ca', 'verify-full']).default('disable'),
  /** Path to a CA certificate file (verify-ca / verify-full). */
  ca_file: z.string().optional(),
});

export type SslConfig = z.infer<typeof sslConfig>;
