import { z } from 'zod';
import { sslConfig } from '../../connections/ssl-config.js';
import { checkUrlOrCloudSql, cloudSqlFields } from '../../connections/cloudsql/cloudsql-config.js';

export const mysqlSourceConfig = z
  .strictObject({
    type: z.literal('mysql'),
    /** mysql://user:password@host:3306/db (MySQL or MariaDB) — put the password in ${ENV}. Or `cloudsql`. */
    url: z.string().min(1).optional(),
    /** TLS in libpq's sslmode vocabulary, as for Postgres. */
    ssl: sslConfig.optional(),
    /** A Cloud SQL for MySQL instance by connection name, through Google's connector. */
    ...cloudSqlFields,
  })
  .superRefine(checkUrlOrCloudSql);
export type MysqlSourceConfig = z.infer<typeof mysqlSourceConfig>;
