import { ConnectionError, OutflowError, TransientError } from '../../errors.js';
import { redact } from '../../config/redact.js';
import { isPgConnectionSettingsError, isTransientPgError, type PgErrorLike } from '../../connections/postgres-faults.js';
import { missingPasswordMessage } from '../../connections/pg-connection-string.js';

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
  const noPassword = missingPasswordMessage(e);
  if (noPassword) return noPassword;
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
  if (isPgConnectionSettingsError(e) || missingPasswordMessage(e)) return new ConnectionError(msg, { cause: e });
  return new OutflowError(msg, { cause: e });
}
