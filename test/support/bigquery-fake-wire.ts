/**
 * BigQuery REST wire shapes for the fake server: f/v rows, error envelopes, page tokens.
 * Shapes follow the v2 REST reference (tabledata.list, jobs.query, jobs.getQueryResults).
 */
import type { BigqueryCell, BigqueryField, BigqueryRow } from '../../src/sources/bigquery/bigquery-types.js';

export type { BigqueryField };

/**
 * A canned value as BigQuery holds it in JSON: every scalar a string (INT64 digits, NUMERIC
 * digits, BYTES base64, TIMESTAMP int64 microseconds, DATETIME 'YYYY-MM-DDTHH:MM:SS[.ffffff]'),
 * null, an array for a REPEATED field, and an array of sub-values (schema order) for a RECORD.
 */
export type WireValue = null | string | WireValue[];

export function encodeRow(fields: BigqueryField[], values: WireValue[], int64Timestamps: boolean): BigqueryRow {
  return { f: fields.map((field, i) => encodeCell(field, values[i], int64Timestamps)) };
}

function encodeCell(field: BigqueryField, value: WireValue, int64Timestamps: boolean): BigqueryCell {
  if (field.mode === 'REPEATED') {
    // BigQuery has no NULL arrays: they read as [].
    const items = (value ?? []) as WireValue[];
    return { v: items.map((item) => encodeCell({ ...field, mode: 'NULLABLE' }, item, int64Timestamps)) };
  }
  if (value === null) return { v: null };
  if (field.type === 'RECORD' || field.type === 'STRUCT') {
    const subs = value as WireValue[];
    return { v: { f: (field.fields ?? []).map((sub, i) => encodeCell(sub, subs[i], int64Timestamps)) } };
  }
  if (typeof value !== 'string') throw new Error(`fake BigQuery: canned value of ${field.name} must be a string, got ${JSON.stringify(value)}`);
  if (field.type === 'TIMESTAMP' && !int64Timestamps) return { v: floatSecondsText(value) };
  return { v: value };
}

/** The legacy TIMESTAMP form without formatOptions.useInt64Timestamp: seconds as a double in E notation. */
function floatSecondsText(micros: string): string {
  const negative = micros.startsWith('-');
  const digits = (negative ? micros.slice(1) : micros).padStart(7, '0');
  const whole = digits.slice(0, -6).replace(/^0+(?=\d)/, '');
  const frac = digits.slice(-6).replace(/0+$/, '');
  const mantissa = whole + frac;
  const exponent = whole.length - 1;
  const body = `${mantissa[0]}.${mantissa.slice(1) || '0'}E${exponent}`;
  return negative ? `-${body}` : body;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

const DEFAULT_MESSAGES: Record<string, string> = {
  backendError: 'Error encountered during execution. Retrying may solve the problem.',
  internalError: 'An internal error occurred and the request could not be completed.',
  rateLimitExceeded:
    'Exceeded rate limits: too many api requests per user per method for this user_method. For more information, see https://cloud.google.com/bigquery/docs/troubleshoot-quotas',
  quotaExceeded: 'Quota exceeded: Your project exceeded quota for concurrent queries. For more information, see https://cloud.google.com/bigquery/docs/troubleshoot-quotas',
  accessDenied: 'Access Denied: Project outflow-test: User does not have bigquery.jobs.create permission in project outflow-test.',
  required: 'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
};

export interface ErrorEnvelope {
  error: { code: number; message: string; errors: { message: string; domain: string; reason: string }[]; status: string };
}

export function errorEnvelope(code: number, reason: string, message = DEFAULT_MESSAGES[reason] ?? reason): ErrorEnvelope {
  return {
    error: { code, message, errors: [{ message, domain: 'global', reason }], status: STATUS_TEXT[code] ?? 'UNKNOWN' },
  };
}

/** Opaque to the client, as BigQuery's are; the fake reads back the offset and the page number. */
export function encodePageToken(offset: number, page: number): string {
  return 'BQ' + Buffer.from(`${offset}:${page}`).toString('base64url');
}

export function decodePageToken(token: string): { offset: number; page: number } | undefined {
  const m = /^(\d+):(\d+)$/.exec(Buffer.from(token.slice(2), 'base64url').toString());
  return token.startsWith('BQ') && m ? { offset: Number(m[1]), page: Number(m[2]) } : undefined;
}
