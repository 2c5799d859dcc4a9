/**
 * One classification of Postgres driver faults for the Postgres source and destination
 * alike: which errors are worth another attempt (a lost or refused connection, a
 * serialization failure, a server shutting down) and which mean the connection settings
 * are wrong. Both sides once kept their own lists and disagreed (ECONNREFUSED was retried
 * by the destination, fatal for the source).
 */
export interface PgErrorLike {
  code?: string;
  message: string;
  detail?: string;
  hint?: string;
  where?: string;
  column?: string;
  constraint?: string;
  table?: string;
}

const TRANSIENT_CODES = new Set(['40001', '40P01', '53300', '57P01', '57P02', '57P03', '55P03']);
/** Refused included: a server restarting refuses connections for a moment. */
const TRANSIENT_NODE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);
/** Settings that another attempt will not fix: unknown host, bad credentials, no such database. */
const CONNECTION_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', '28000', '28P01', '3D000']);

export function isTransientPgError(e: unknown): boolean {
  const err = e as PgErrorLike;
  if (!err || typeof err !== 'object') return false;
  if (err.code && (TRANSIENT_CODES.has(err.code) || err.code.startsWith('08'))) return true;
  if (err.code && TRANSIENT_NODE.has(err.code)) return true;
  // The driver's own words for a socket that closed, never opened in time, or stopped answering.
  return /Connection terminated|connection timeout|timeout expired|Query read timeout|not queryable|terminating connection/i.test(err.message ?? '');
}

export function isPgConnectionSettingsError(e: unknown): boolean {
  const code = (e as PgErrorLike)?.code;
  return typeof code === 'string' && CONNECTION_CODES.has(code);
}
