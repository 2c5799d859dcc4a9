/**
 * The one redaction step. Every secret outflow learns (values substituted into secret
 * fields, passwords inside connection URLs) is registered here, and every message, log
 * line, JSON output and run record passes through `redact` before it leaves the process.
 */
const secrets = new Set<string>();

export const REDACTED = '***';

export function registerSecret(value: string | undefined): void {
  if (!value || value.length < 3) return; // too short to redact without mangling text
  secrets.add(value);
  try {
    const decoded = decodeURIComponent(value);
    if (decoded !== value && decoded.length >= 3) secrets.add(decoded);
    const encoded = encodeURIComponent(value);
    if (encoded !== value) secrets.add(encoded);
  } catch {
    // not URI-encoded; the raw form is enough
  }
}

/** Registers the password of a URL such as postgres://user:pass@host/db. */
export function registerUrlSecrets(url: string): void {
  try {
    const u = new URL(url);
    if (u.password) registerSecret(decodeURIComponent(u.password));
    if (u.password) registerSecret(u.password);
    for (const key of ['password', 'sslpassword', 'token']) {
      const v = u.searchParams.get(key);
      if (v) registerSecret(v);
    }
  } catch {
    // not a URL; nothing to extract
  }
}

const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)([^@\s/]+)(@)/gi;

export function redact(text: string): string {
  let out = text.replace(URL_PASSWORD, `$1${REDACTED}$3`);
  // Longest first, so a secret containing another is replaced whole.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (out.includes(s)) out = out.split(s).join(REDACTED);
  }
  return out;
}

/** Deep-redacts a JSON-able value (objects, arrays, strings). */
export function redactValue<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactValue(v)) as T;
  if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactValue(v);
    return out as T;
  }
  return value;
}
