import { z } from 'zod';
import { sslConfig } from '../../connections/ssl-config.js';
import { checkUrlOrCloudSql, cloudSqlFields } from '../../connections/cloudsql/cloudsql-config.js';

const common = {
  /** Target table, optionally schema-qualified (`crm.state_abbreviations`). */
  table: z.string().min(1),
  /** Create the target from the model's schema when it does not exist. */
  create_table: z.boolean().default(true),
};

/** Where outflow keeps its delivery ledger (`_outflow_ledger_<table>`); the target table's schema when unset. */
const ledgerSchema = z.string().min(1).optional();

export const postgresDestinationConfig = z
  .strictObject({
    type: z.literal('postgres'),
    ledger_schema: ledgerSchema,
    /** postgres://user:password@host:port/db — put the password in ${ENV}, never in the file. Or `cloudsql`. */
    url: z.string().min(1).optional(),
    ssl: sslConfig.optional(),
    /** A Cloud SQL instance by connection name, through Google's connector (with database, user, password). */
    ...cloudSqlFields,
    ...common,
  })
  .superRefine(checkUrlOrCloudSql);

/** The same destination on an embedded Postgres (PGlite) kept in a data directory. */
export const pgliteDestinationConfig = z.strictObject({
  type: z.literal('pglite'),
  /** Data directory; relative paths are resolved from the pipeline file's folder. */
  path: z.string().min(1),
  ledger_schema: ledgerSchema,
  ...common,
});

export type PostgresDestinationConfig = z.infer<typeof postgresDestinationConfig>;
export type PgliteDestinationConfig = z.infer<typeof pgliteDestinationConfig>;

/**
 * Names the target without secrets: engine, host, port, database and table. The snapshot
 * fingerprint includes it, so it must not change for an existing pipeline.
 */
export function postgresDestinationLabel(d: PostgresDestinationConfig | PgliteDestinationConfig): string {
  if (d.type === 'pglite') return `pglite ${d.table}`;
  if (d.cloudsql) return `postgres cloudsql ${d.cloudsql.instance}/${d.database} ${d.table}`;
  try {
    const u = new URL(d.url ?? '');
    return `postgres ${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname} ${d.table}`;
  } catch {
    return `postgres ${d.table}`;
  }
}
