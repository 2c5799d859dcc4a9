import { redact } from '../../config/redact.js';
import { ConnectionError, TransientError } from '../../errors.js';
import type { CloudSqlConfig } from './cloudsql-config.js';

/** The parts of a Gaxios (Admin API) error and a connector error this mapping reads. */
interface AdminApiFault {
  code?: string | number;
  status?: number;
  message?: string;
  response?: { status?: number; data?: { error?: { message?: string; errors?: { reason?: string }[]; details?: { reason?: string }[] } } };
}

const ADMIN_API = 'sqladmin.googleapis.com';

/**
 * The Cloud SQL Admin API's answers (and the connector's own error codes) turned into what a
 * user has to do: enable the API, grant `Cloud SQL Client`, fix the connection name, or
 * reach the network. Each message names the instance; none carries a token or key.
 */
export function describeAdminApiError(e: unknown, cs: CloudSqlConfig): Error {
  const err = (e ?? {}) as AdminApiFault;
  const [project] = splitInstance(cs.instance);
  const at = `cloudsql ${cs.instance}`;
  const status = err.response?.status ?? (typeof err.status === 'number' ? err.status : undefined);
  const body = err.response?.data?.error;
  const reasons = [...(body?.errors ?? []), ...(body?.details ?? [])].map((r) => r.reason ?? '');
  const apiMessage = redact(body?.message ?? err.message ?? String(e));
  const wrap = (message: string, kind: typeof ConnectionError = ConnectionError) => new kind(`${at}: ${message}`, { cause: e });

  if (status === 403 && (reasons.includes('accessNotConfigured') || reasons.includes('SERVICE_DISABLED'))) {
    return wrap(`the Cloud SQL Admin API is not enabled in project ${project}: enable it (gcloud services enable ${ADMIN_API} --project ${project}) and retry. Google said: ${apiMessage}`);
  }
  if (status === 403) {
    return wrap(
      `the Cloud SQL Admin API refused the request (403): the credentials' principal needs the role Cloud SQL Client (roles/cloudsql.client) on project ${project}; Cloud SQL answers the same way when no instance has this name. Google said: ${apiMessage}`,
    );
  }
  if (status === 404) {
    return wrap(`instance not found (404): check the connection name (gcloud sql instances describe INSTANCE --format='value(connectionName)'). Google said: ${apiMessage}`);
  }
  if (status === 401) {
    return wrap(`the Cloud SQL Admin API rejected the credentials (401): check GOOGLE_APPLICATION_CREDENTIALS. Google said: ${apiMessage}`);
  }
  if (typeof status === 'number' && (status >= 500 || status === 429)) {
    return wrap(`the Cloud SQL Admin API answered ${status}: ${apiMessage}`, TransientError);
  }
  switch (err.code) {
    case 'EBADSQLADMINREGION':
      return wrap(`${apiMessage}: the region in the connection name does not match the instance's`);
    case 'ENOPUBLICSQLADMINIPADDRESS':
    case 'ENOPRIVATESQLADMINIPADDRESS':
    case 'ENOPSCSQLADMINIPADDRESS':
    case 'ENOSQLADMINIPADDRESS':
      return wrap(`the instance has no ${cs.ip_type} address (ip_type: ${cs.ip_type}); set cloudsql.ip_type to one it has`);
    case 'EBADCONNECTIONNAME':
      return wrap(`not an instance connection name; expected "project:region:instance"`);
    case 'ENOACCESSTOKEN':
      return wrap('auth: iam needs an access token and the credentials gave none');
  }
  if (/default credentials|Could not load the default credentials|Unable to detect a Project Id/i.test(err.message ?? '')) {
    return wrap(
      'no Google credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or run where Application Default Credentials exist (gcloud auth application-default login, or a Google Cloud runtime)',
    );
  }
  if (typeof err.code === 'string' && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH)$/.test(err.code)) {
    return wrap(`cannot reach the Cloud SQL Admin API (${err.code}): outflow needs HTTPS access to ${ADMIN_API}`, TransientError);
  }
  return wrap(`the Cloud SQL connector failed: ${apiMessage}`);
}

const SOCKET_CODES = /^(ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ECONNRESET|EPIPE)$/;

/**
 * Rewrites the message of a fault on the connector's TLS socket to the instance (port 3307)
 * so that it names the instance and, before the connection is up, the likely cause; the error's code stays, so each
 * driver's fault classification (retry or not) is unchanged. Refused or silent usually
 * means the network: a private or PSC address is reachable only from inside the VPC.
 */
export function explainSocketError(e: Error & { code?: string; address?: string; port?: number }, cs: CloudSqlConfig, isEstablished: boolean): void {
  const at = `cloudsql ${cs.instance}`;
  const where = e.address ? ` at ${e.address}:${e.port ?? 3307}` : '';
  if (isEstablished) {
    e.message = `${at}: connection to the instance lost: ${redact(e.message)}`;
  } else if (typeof e.code === 'string' && SOCKET_CODES.test(e.code)) {
    const hint =
      cs.ip_type === 'public'
        ? 'check that the instance is running and outbound TCP to port 3307 is allowed'
        : `a ${cs.ip_type} address is reachable only from inside the instance's VPC: run outflow there (the connector handles certificates, not the network)`;
    e.message = `${at}: instance unreachable${where} (${e.code}, ip_type: ${cs.ip_type}): ${hint}`;
  } else {
    e.message = `${at}: TLS connection to the instance${where} failed: ${redact(e.message)}`;
  }
}

function splitInstance(instance: string): [project: string, region: string, name: string] {
  const parts = instance.split(':');
  const name = parts.pop() ?? '';
  const region = parts.pop() ?? '';
  return [parts.join(':'), region, name];
}
