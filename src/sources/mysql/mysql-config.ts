import { z } from 'zod';
import { sslConfig } from '../../connections/ssl-config.js';

export const mysqlSourceConfig = z.strictObject({
  type: z.literal('mysql'),
  /** mysql://user:password@host:3306/db (MySQL or MariaDB) — put the password in ${ENV}. */
  url: z.string().min(1),
  /** TLS in libpq's sslmode vocabulary, as for Postgres. */
  ssl: sslConfig.optional(),
});
export type MysqlSourceConfig = z.infer<typeof mysqlSourceConfig>;
