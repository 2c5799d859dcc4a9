import { z } from 'zod';

/**
 * A Cloud SQL instance reached by its connection name through Google's connector, instead
 * of a host in a URL. Credentials come from Application Default Credentials
 * (GOOGLE_APPLICATION_CREDENTIALS, or the metadata server on Google Cloud), never the YAML.
 */
export const cloudSqlConfig = z.strictObject({
  /** The instance connection name, `project:region:instance` (Console → Overview → Connection name). */
  instance: z
    .string()
    .regex(/^[^:\s]+(:[^:\s]+)?:[^:\s]+:[^:\s]+$/, 'an instance connection name "project:region:instance"'),
  /** Which of the instance's addresses to dial; private and psc need outflow inside the VPC. */
  ip_type: z.enum(['public', 'private', 'psc']).default('public'),
  /** `iam`: IAM database authentication (the user is the service account, no password). */
  auth: z.enum(['password', 'iam']).default('password'),
  /**
   * Another Cloud SQL Admin API endpoint (a Private Service Connect endpoint for Google
   * APIs, or the local stand-in in tests), e.g. https://sqladmin-myendpoint.p.googleapis.com.
   */
  admin_api_endpoint: z.string().url().optional(),
});
export type CloudSqlConfig = z.infer<typeof cloudSqlConfig>;

/**
 * The fields a Postgres or MySQL config adds for Cloud SQL. `database`, `user` and
 * `password` stand in for the parts of a URL the connection name does not carry.
 */
export const cloudSqlFields = {
  cloudsql: cloudSqlConfig.optional(),
  /** Database name on the Cloud SQL instance (with `cloudsql`). */
  database: z.string().min(1).optional(),
  /** Database user; with `auth: iam` the IAM user (Postgres: sa@project.iam, MySQL: sa). */
  user: z.string().min(1).optional(),
  /** With `auth: password` only; put it in ${ENV}, never in the file. */
  password: z.string().min(1).optional(),
};

/** What a config with Cloud SQL fields looks like to the checks and the connector. */
export interface CloudSqlFields {
  url?: string;
  ssl?: unknown;
  cloudsql?: CloudSqlConfig;
  database?: string;
  user?: string;
  password?: string;
}

/** A config that connects through the connector: the fields it needs are known to be there. */
export interface CloudSqlTarget {
  cloudsql: CloudSqlConfig;
  database: string;
  user: string;
  password?: string;
}

/**
 * Exactly one of `url` and `cloudsql`; with `cloudsql`, the database and user it needs, and
 * a password for password auth only. Each issue names the field it is about, so the config
 * error points at its line.
 */
export function checkUrlOrCloudSql(value: CloudSqlFields, ctx: z.RefinementCtx): void {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (value.url !== undefined && value.cloudsql !== undefined) {
    issue('cloudsql', 'give either url or cloudsql (an instance connection name), not both');
    return;
  }
  if (value.url === undefined && value.cloudsql === undefined) {
    issue('url', 'required: a connection url, or cloudsql: { instance: "project:region:instance" }');
    return;
  }
  if (value.url !== undefined) {
    for (const field of ['database', 'user', 'password'] as const) {
      if (value[field] !== undefined) issue(field, `${field} goes with cloudsql; with url, put it in the url`);
    }
    return;
  }
  if (value.ssl !== undefined) issue('ssl', 'not used with cloudsql: the connector always connects with TLS 1.3 and its own certificates; remove ssl');
  const auth = value.cloudsql!.auth;
  if (value.database === undefined) issue('database', 'required with cloudsql: the database name on the instance');
  if (value.user === undefined) {
    issue('user', auth === 'iam' ? 'required with cloudsql: the IAM database user (Postgres: name@project.iam, MySQL: name)' : 'required with cloudsql: the database user');
  }
  if (auth === 'password' && value.password === undefined) issue('password', 'required with cloudsql auth: password (use ${ENV}); or set cloudsql.auth: iam');
  if (auth === 'iam' && value.password !== undefined) issue('password', 'not used with cloudsql auth: iam (IAM database authentication sends no password); remove it');
}

/** Narrows a checked config to its Cloud SQL target, or undefined when it uses a url. */
export function cloudSqlTargetOf(config: CloudSqlFields): CloudSqlTarget | undefined {
  if (!config.cloudsql) return undefined;
  return { cloudsql: config.cloudsql, database: config.database!, user: config.user!, password: config.password };
}
