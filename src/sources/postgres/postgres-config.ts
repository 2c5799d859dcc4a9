import { z } from 'zod';
import { sslConfig } from '../../connections/ssl-config.js';
import { checkUrlOrCloudSql, cloudSqlFields } from '../../connections/cloudsql/cloudsql-config.js';

export const postgresSourceConfig = z
  .strictObject({
    type: z.literal('postgres'),
    /** postgres://user:password@host:port/db — put the password in ${ENV}, never in the file. Or `cloudsql`. */
    url: z.string().min(1).optional(),
    ssl: sslConfig.optional(),
    /** A Cloud SQL instance by connection name, through Google's connector (with database, user, password). */
    ...cloudSqlFields,
    /**
     * Rows per FETCH round trip; defaults to the pipeline's batch_size. Amazon Redshift
     * caps FETCH at 1000 rows on single-node clusters, so set 1000 there.
     */
    fetch_size: z.number().int().min(1).max(1_000_000).optional(),
  })
  .superRefine(checkUrlOrCloudSql);
export type PostgresSourceConfig = z.infer<typeof postgresSourceConfig>;
