import type { Duplex } from 'node:stream';
import { registerSecret } from '../../config/redact.js';
import { TransientError } from '../../errors.js';
import type { CloudSqlTarget } from './cloudsql-config.js';
import { describeAdminApiError, explainSocketError } from './cloudsql-errors.js';

/** What pg.Client / pg.Pool and mysql2.createPool take instead of a host and port. */
export interface CloudSqlDriverOptions {
  /** Opens a TLS 1.3 socket to the instance, with the connector's ephemeral client certificate. */
  stream: () => Duplex;
  user: string;
  password?: string;
  database: string;
}

/** One connector for one connection or pool: its options, and close() to stop its certificate refresh. */
export interface CloudSqlConnection {
  options: CloudSqlDriverOptions;
  close(): void;
}

/**
 * Asks the Cloud SQL Admin API (through Google's connector) for the instance's address,
 * its server CA and an ephemeral client certificate, with Application Default Credentials.
 * The connector keeps refreshing the certificate on a timer until close(), so whoever opens
 * it closes it with the connection or pool it serves.
 */
export async function openCloudSql(target: CloudSqlTarget, opts: { timeoutMs?: number } = {}): Promise<CloudSqlConnection> {
  // Imported when a pipeline uses Cloud SQL: the Admin API client is large to load.
  const { Connector, IpAddressTypes, AuthTypes } = await import('@google-cloud/cloud-sql-connector');
  const cs = target.cloudsql;
  registerSecret(target.password);
  const connector = new Connector({ userAgent: 'outflow', sqlAdminAPIEndpoint: cs.admin_api_endpoint });
  const pending = connector.getOptions({
    instanceConnectionName: cs.instance,
    ipType: { public: IpAddressTypes.PUBLIC, private: IpAddressTypes.PRIVATE, psc: IpAddressTypes.PSC }[cs.ip_type],
    authType: cs.auth === 'iam' ? AuthTypes.IAM : AuthTypes.PASSWORD,
  });
  let timer: NodeJS.Timeout | undefined;
  let isTimedOut = false;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let clientOpts: { stream: () => Duplex };
  try {
    clientOpts = await Promise.race([
      pending,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          isTimedOut = true;
          reject(new TransientError(`cloudsql ${cs.instance}: the Cloud SQL Admin API did not answer within timeouts.connect (${timeoutMs} ms)`));
        }, timeoutMs);
      }),
    ]);
  } catch (e) {
    // A late answer still starts the certificate refresh timer: close the connector then.
    if (isTimedOut) pending.then(() => connector.close(), () => undefined);
    // Otherwise nothing to close: a failed first refresh leaves no timer, and the
    // connector's close() would turn the failed lookup into an unhandled rejection.
    throw e instanceof TransientError ? e : describeAdminApiError(e, cs);
  } finally {
    clearTimeout(timer);
  }
  return {
    options: {
      stream: () => {
        const socket = clientOpts.stream();
        let isEstablished = false;
        socket.once('secureConnect', () => (isEstablished = true));
        // Added before the driver's own listener: the driver then reports (and classifies by
        // its code) an error whose message already names the instance and the likely cause.
        socket.once('error', (e) => explainSocketError(e, cs, isEstablished));
        return socket;
      },
      user: target.user,
      // IAM database authentication: the ephemeral certificate carries the login; no password.
      ...(cs.auth === 'password' ? { password: target.password } : {}),
      database: target.database,
    },
    close: () => connector.close(),
  };
}
