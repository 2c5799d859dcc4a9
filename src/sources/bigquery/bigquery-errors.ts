import { ConnectionError, ModelError, OutflowError, TransientError } from '../../errors.js';
import { redact } from '../../config/redact.js';

/** What BigQuery said, from its error envelope `{error:{code,message,errors:[{reason,message}],status}}`. */
export interface BigqueryErrorInfo {
  code?: number;
  reason?: string;
  message: string;
}

/** Status codes and reasons worth another attempt: rate limits, quotas that refill, backend hiccups. */
const RETRYABLE_CODES = new Set([408, 429, 500, 502, 503, 504]);
const RETRYABLE_REASONS = new Set([
  'rateLimitExceeded',
  'userRateLimitExceeded',
  'quotaExceeded',
  'backendError',
  'internalError',
]);

/**
 * The retry predicate handed to the client (retryOptions.retryableErrorFn). The client's
 * default does not retry 403 quotaExceeded; this one does.
 */
export function isRetryableBigqueryError(err: unknown): boolean {
  const info = errorInfo(err);
  return (info.code !== undefined && RETRYABLE_CODES.has(info.code)) || (info.reason !== undefined && RETRYABLE_REASONS.has(info.reason));
}

/**
 * Reads the envelope from the client's ApiError. The client parses `errors` from the raw
 * body only when the body is still text, which depends on the exact Content-Type casing, so
 * both forms of `response.body` are tried.
 */
export function errorInfo(err: unknown): BigqueryErrorInfo {
  const e = (err ?? {}) as { code?: unknown; errors?: { reason?: string; message?: string }[]; message?: string; response?: { body?: unknown } };
  const envelope = envelopeFrom(e.response?.body);
  const code = typeof envelope?.code === 'number' ? envelope.code : typeof e.code === 'number' ? e.code : undefined;
  const reason = envelope?.errors?.[0]?.reason ?? e.errors?.[0]?.reason;
  const message = envelope?.message ?? e.errors?.[0]?.message ?? e.message ?? String(err);
  return { code, reason, message };
}

function envelopeFrom(body: unknown): { code?: number; message?: string; errors?: { reason?: string }[] } | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  if (parsed && typeof parsed === 'object' && 'error' in parsed) {
    const error = (parsed as { error: unknown }).error;
    if (error && typeof error === 'object') return error as { code?: number; message?: string };
  }
  return undefined;
}

/**
 * The OutflowError a user acts on. `context` says what was being done ("reading table
 * p.d.t"). Retryable failures that outlived the client's retries become TransientError (the
 * engine may retry the run); auth and permission problems ConnectionError; a bad query or a
 * missing table ModelError.
 */
export function toOutflowError(err: unknown, context: string): OutflowError {
  if (err instanceof OutflowError) return err;
  const info = errorInfo(err);
  const tag = info.code === undefined ? '' : ` (HTTP ${info.code}${info.reason ? ` ${info.reason}` : ''})`;
  const message = redact(`bigquery source: ${context}: ${info.message}${tag}`);
  // Not the ApiError itself: its `response.request.headers` carries the bearer token.
  const cause = new Error(redact((err as Error)?.message ?? String(err)));
  if (isRetryableBigqueryError(err)) return new TransientError(message, { cause });
  if (info.code === undefined || info.code === 401 || info.code === 403) return new ConnectionError(message, { cause });
  return new ModelError(message, { cause });
}
