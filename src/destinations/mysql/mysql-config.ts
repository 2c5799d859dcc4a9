import { z } from 'zod';
import { sslConfig } from '../../connections/ssl-config.js';

export const mysqlDestinationConfig = z.strictObject({
  type: z.literal('mysql'),
  /** mysql://user:password@host:3306/db (MySQL 8 or MariaDB 10.6+) — put the password in ${ENV}, never in the file. */
  url: z.string().min(1),
  /** TLS in libpq's sslmode vocabulary, as for Postgres. */
  ssl: sslConfig.optional(),
  /** Target table, optionally qualified with its database (`crm.state_abbreviations`). */
  table: z.string().min(1),
  /** Create the target from the model's schema when it does not exist. */
  create_table: z.boolean().default(true),
});

export type MysqlDestinationConfig = z.infer<typeof mysqlDestinationConfig>;

/**
 * Names the target without secrets: engine, host, port, database and table. The snapshot
 * fingerprint includes it, so it must not change for an existing pipeline.
 */
export function mysqlDestinationLabel(d: MysqlDestinationConfig): string {
  try {
    const u = new URL(d.url);
    return `mysql ${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname} ${d.table}`;
  } catch {
    return `mysql ${d.table}`;
  }
}
