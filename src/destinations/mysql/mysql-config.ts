import { z } from 'zod';
import { sslConfig } from '../../connections/ssl-config.js';
import { checkUrlOrCloudSql, cloudSqlFields } from '../../connections/cloudsql/cloudsql-config.js';

export const mysqlDestinationConfig = z
  .strictObject({
    type: z.literal('mysql'),
    /** mysql://user:password@host:3306/db (MySQL 8 or MariaDB 10.6+) — put the password in ${ENV}, never in the file. Or `cloudsql`. */
    url: z.string().min(1).optional(),
    /** TLS in libpq's sslmode vocabulary, as for Postgres. */
    ssl: sslConfig.optional(),
    /** A Cloud SQL for MySQL instance by connection name, through Google's connector (with database, user, password). */
    ...cloudSqlFields,
    /** Target table, optionally qualified with its database (`crm.state_abbreviations`). */
    table: z.string().min(1),
    /** Create the target from the model's schema when it does not exist. */
    create_table: z.boolean().default(true),
    /** Database where outflow keeps its delivery ledger (`_outflow_deliveries`); the target table's database when unset. */
    ledger_schema: z.string().min(1).optional(),
  })
  .superRefine(checkUrlOrCloudSql);

export type MysqlDestinationConfig = z.infer<typeof mysqlDestinationConfig>;

/**
 * Names the target without secrets: engine, host, port, database and table (or the Cloud
 * SQL instance and database). The snapshot fingerprint includes it, so it must not change
 * for an existing pipeline.
 */
export function mysqlDestinationLabel(d: MysqlDestinationConfig): string {
  if (d.cloudsql) return `mysql cloudsql ${d.cloudsql.instance}/${d.database} ${d.table}`;
  try {
    const u = new URL(d.url ?? '');
    return `mysql ${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname} ${d.table}`;
  } catch {
    return `mysql ${d.table}`;
  }
}
