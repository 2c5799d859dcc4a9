import { ConnectionError, OutflowError, TransientError } from '../../errors.js';
import { redact } from '../../config/redact.js';

/** What mysql2 puts on a server or socket error. */
export interface MysqlErrorLike {
  message: string;
  code?: string;
  errno?: number;
  sqlMessage?: string;
  fatal?: boolean;
}

/**
 * Server errors caused by one row's values, which the destination isolates and reports as
 * rejected rows (the rest of the batch is delivered). Numbers, not mysql2's code names:
 * MySQL and MariaDB reuse some numbers for different names (4025 is MariaDB's CHECK failure).
 */
const ROW_LEVEL_ERRNOS = new Set([
  1048, // column cannot be null
  1062, // duplicate entry for a unique key
  1263, // NULL supplied to NOT NULL column
  1264, // out of range value
  1265, // data truncated
  1292, // incorrect date/time/number value
  1300, // invalid character string
  1366, // incorrect value for column (strict mode)
  1367, // illegal value
  1406, // data too long
  1411, // incorrect value for function (e.g. str_to_date)
  1451, // a foreign key still points at the row (delete/update)
  1452, // no parent row for a foreign key
  1690, // value out of range in an expression
  3140, // MySQL: invalid JSON text
  3819, // MySQL: CHECK constraint violated
  4025, // MariaDB: CHECK constraint failed (its JSON type is a json_valid() check)
  4078, // MariaDB: illegal parameter data types (e.g. a bad UUID value)
]);

/** Lost, refused, deadlocked or busy: another attempt can succeed. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'ER_SERVER_SHUTDOWN', 'ER_CON_COUNT_ERROR',
  'ER_CONNECTION_KILLED', 'ER_CLIENT_INTERACTION_TIMEOUT', 'ER_NET_READ_INTERRUPTED', 'ER_NET_WRITE_INTERRUPTED',
]);
const TRANSIENT_ERRNOS = new Set([1040, 1053, 1159, 1161, 1205, 1213, 1927, 2006, 2013, 4031]);
/** Settings that another attempt will not fix: unknown host, bad credentials, no such database. */
const CONNECTION_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'HANDSHAKE_SSL_ERROR', 'HANDSHAKE_NO_SSL_SUPPORT']);
const CONNECTION_ERRNOS = new Set([1044, 1045, 1049, 1251]);

export function isRowLevelMysqlError(e: unknown): boolean {
  const errno = (e as MysqlErrorLike)?.errno;
  return typeof errno === 'number' && ROW_LEVEL_ERRNOS.has(errno) && !(e as MysqlErrorLike).fatal;
}

export function isDuplicateKeyError(e: unknown): boolean {
  return (e as MysqlErrorLike)?.errno === 1062;
}

export function isTransientMysqlError(e: unknown): boolean {
  const err = e as MysqlErrorLike;
  if (!err || typeof err !== 'object') return false;
  if (err.code && TRANSIENT_CODES.has(err.code)) return true;
  if (typeof err.errno === 'number' && TRANSIENT_ERRNOS.has(err.errno)) return true;
  return /Connection lost|closed state|Can't add new command when connection is in closed state/i.test(err.message ?? '');
}

/** The column a row-level error names: `column 'x'` (MySQL) or ``column `db`.`t`.`x` `` (MariaDB). */
export function columnOfMysqlError(e: unknown): string | undefined {
  const msg = (e as MysqlErrorLike)?.sqlMessage ?? (e as MysqlErrorLike)?.message ?? '';
  const m = /column '([^']+)'/i.exec(msg) ?? /column (?:`[^`]*`\.)*`([^`]+)`/i.exec(msg) ?? /CONSTRAINT `(?:[^`.]*\.)?([^`]+)` failed/i.exec(msg);
  return m?.[1];
}

/** The server's message with the row counter it appends (always 1 in a bisected statement) removed, secrets redacted. */
export function describeMysqlError(e: unknown): string {
  const err = e as MysqlErrorLike;
  const text = err?.sqlMessage ?? err?.message ?? String(e);
  return redact(text.replace(/ at row \d+$/, ''));
}

/** Wraps a driver error in the class the engine acts on (retry or fail). */
export function wrapMysqlError(context: string, e: unknown): Error {
  if (e instanceof OutflowError) return e;
  const msg = `${context}: ${describeMysqlError(e)}`;
  if (isTransientMysqlError(e)) return new TransientError(msg, { cause: e });
  const err = e as MysqlErrorLike;
  if (err?.errno === 3948 || err?.errno === 1148) {
    // MySQL 8 ships with local_infile off; outflow's bulk path needs it.
    return new ConnectionError(`${msg} — outflow loads rows with LOAD DATA LOCAL INFILE: enable it on the server (SET PERSIST local_infile = ON)`, { cause: e });
  }
  if ((err?.code && CONNECTION_CODES.has(err.code)) || (typeof err?.errno === 'number' && CONNECTION_ERRNOS.has(err.errno))) {
    return new ConnectionError(msg, { cause: e });
  }
  return new OutflowError(msg, { cause: e });
}
