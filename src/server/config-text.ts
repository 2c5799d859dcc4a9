import { isPair, isScalar, parseDocument, visit } from 'yaml';
import { REDACTED, redact } from '../config/redact.js';

/** Keys whose literal values are secrets (the same family env-substitution registers). */
const SECRET_KEY = /(password|passwd|token|secret|credentials|dsn|api_key|private_key|key_file)$/i;
/** Keys holding a URL: its password, path (webhooks carry their token there) and query may be secret. */
const URL_KEY = /(url|uri|webhook|endpoint)$/i;
const ONLY_REFERENCES = /^(\s*\$\{[A-Za-z_][A-Za-z0-9_]*\}\s*)+$/;
const HTTP_URL = /^\s*https?:\/\/\S+$/i;

/**
 * A pipeline file as the UI shows it. The file normally holds ${ENV} references, which are
 * safe to show; a secret written into it literally is not. Layers: the value of a
 * secret-named key that is not a pure ${ENV} reference; in a URL-valued key (and in any
 * value that is an http(s) URL) everything after the host of a web URL, or the query of a
 * connection URL; the password part of any URL; and every secret registered while loading
 * (redact()).
 */
export function redactConfigText(text: string): string {
  let out = text;
  let isParsed = false;
  try {
    const doc = parseDocument(text);
    isParsed = doc.errors.length === 0;
    const cuts: [number, number, string][] = [];
    visit(doc, {
      Pair(_, pair) {
        if (!isPair(pair) || !isScalar(pair.key) || !isScalar(pair.value) || !pair.value.range) return;
        const key = String(pair.key.value);
        const value = String(pair.value.value ?? '');
        if (value === '' || ONLY_REFERENCES.test(value)) return;
        const [start, end] = pair.value.range;
        if (SECRET_KEY.test(key)) cuts.push([start, end, REDACTED]);
        else if (URL_KEY.test(key) || HTTP_URL.test(value)) {
          const shown = redactUrl(value);
          if (shown !== value) cuts.push([start, end, shown]);
        }
      },
    });
    for (const [start, end, shown] of cuts.sort((a, b) => b[0] - a[0])) out = out.slice(0, start) + shown + out.slice(end);
  } catch {
    // Unparseable YAML is still shown (it is why the pipeline is invalid), with the layers below.
  }
  // Web URLs in text the parser could not read (an invalid file): their path and query go too.
  if (!isParsed) out = out.replace(/(https?:\/\/[^\s/?#"'@]+(?:@[^\s/?#"']+)?)[/?#][^\s"']*/gi, `$1/${REDACTED}`);
  return redact(out);
}

/** A URL as shown: web URLs keep scheme and host; others lose their password and query. */
function redactUrl(value: string): string {
  const v = value.trim();
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/i.exec(v);
  if (!m) return REDACTED;
  const [, scheme, authority, rest] = m;
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at) : '';
  const shownHost = userinfo.includes(':') ? `${userinfo.split(':')[0]}:${REDACTED}@${authority.slice(at + 1)}` : authority;
  if (/^https?:\/\//i.test(scheme)) return rest ? `${scheme}${shownHost}/${REDACTED}` : `${scheme}${shownHost}`;
  const q = rest.indexOf('?');
  return q >= 0 ? `${scheme}${shownHost}${rest.slice(0, q)}?${REDACTED}` : `${scheme}${shownHost}${rest}`;
}
