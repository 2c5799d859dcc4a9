import { redact } from '../../config/redact.js';

/** The most of an API's message kept in a rejected row's reason. */
const MAX_MESSAGE = 300;

/** What an API said, made fit for a rejected row or an error: one line, truncated, secrets redacted. */
export function apiMessage(status: number, statusText: string, body: string): string {
  let message = body.trim();
  try {
    const parsed = JSON.parse(message) as unknown;
    message = messageIn(parsed) ?? message;
  } catch {
    // not JSON: the text itself
  }
  message = redact(message.replace(/\s+/g, ' '));
  if (message.length > MAX_MESSAGE) message = message.slice(0, MAX_MESSAGE) + '…';
  return `HTTP ${status}${statusText ? ` ${statusText}` : ''}${message ? `: ${message}` : ''}`;
}

/** The usual places an API puts its message: `message`, `error`, `error.message`, `detail`, `title`, `errors[0]`. */
function messageIn(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  for (const k of ['message', 'error', 'detail', 'title', 'error_description', 'errors']) {
    const inner = o[k];
    if (inner === undefined) continue;
    const found = Array.isArray(inner) ? messageIn(inner[0]) : messageIn(inner);
    if (found) return found;
  }
  return undefined;
}

/**
 * Rows a 2xx answer says it refused, read with `row_results` paths such as `errors[].index`
 * and `errors[].message`: the array before `[]`, the field after it.
 */
export function refusedInAnswer(
  body: string,
  paths: { index: string; message?: string; base: 0 | 1 },
  rowCount: number,
): { position: number; message: string }[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return [];
  }
  const [arrayPath, indexField] = paths.index.split('[]');
  const list = at(parsed, arrayPath);
  if (!Array.isArray(list)) return [];
  const messageField = paths.message?.split('[]')[1];
  const out: { position: number; message: string }[] = [];
  for (const item of list) {
    const position = Number(at(item, indexField)) - paths.base;
    if (!Number.isInteger(position) || position < 0 || position >= rowCount) continue;
    const m = messageField ? at(item, messageField) : undefined;
    out.push({ position, message: redact(typeof m === 'string' ? m : m === undefined ? 'refused by the API' : JSON.stringify(m)).slice(0, MAX_MESSAGE) });
  }
  return out;
}

/** `a.b` (or `.a.b`) inside a parsed JSON value; '' is the value itself. */
function at(v: unknown, path: string): unknown {
  for (const part of path.split('.').filter(Boolean)) {
    if (!v || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** Retry-After in ms: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
