import { ConnectionError, OutflowError, TransientError } from '../../errors.js';
import { redact } from '../../config/redact.js';

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
const TRANSIENT_NODE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

export function isTransientPgError(e: unknown): boolean {
  const err = e as PgErrorLike;
  if (!err || typeof err !== 'object') return false;
  if (err.code && (TRANSIENT_CODES.has(err.code) || err.code.startsWith('08'))) return true;
  if (err.code && TRANSIENT_NODE.has(err.code)) return true;
  // The driver's own words for a socket that closed, never opened in time, or stopped answering.
  return /Connection terminated|connection timeout|timeout expired|Query read timeout|not queryable|terminating connection/i.test(err.message ?? '');
}

/** Errors caused by one row's values (class 22 data exceptions, class 23 integrity violations). */
export function isRowLevelPgError(e: unknown): boolean {
  const code = (e as PgErrorLike)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/** The column a row-level error is about, from the error's fields or its COPY context. */
export function columnOf(e: PgErrorLike): string | undefined {
  if (e.column) return e.column;
  const m = /column (\S+?):/.exec(e.where ?? '') ?? /column "([^"]+)"/.exec(e.message);
  return m?.[1];
}

/** Message, detail and hint of a Postgres error, with secrets removed. */
export function describePgError(e: unknown): string {
  const err = e as PgErrorLike;
  const parts = [err?.message ?? String(e)];
  if (err?.detail) parts.push(err.detail);
  if (err?.hint) parts.push(`hint: ${err.hint}`);
  return redact(parts.join(': '));
}

/** Wraps a driver error in the class the engine acts on (retry or fail). */
export function wrapPgError(context: string, e: unknown): Error {
  if (e instanceof OutflowError) return e;
  const msg = `${context}: ${describePgError(e)}`;
  if (isTransientPgError(e)) return new TransientError(msg, { cause: e });
  const code = (e as PgErrorLike)?.code;
  if (code === '28P01' || code === '28000' || code === '3D000') return new ConnectionError(msg, { cause: e });
  return new OutflowError(msg, { cause: e });
}
