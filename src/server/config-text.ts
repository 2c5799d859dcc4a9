import { isPair, isScalar, parseDocument, visit } from 'yaml';
import { REDACTED, redact } from '../config/redact.js';

/** Keys whose literal values are secrets (the same family env-substitution registers). */
const SECRET_KEY = /(password|passwd|token|secret|credentials|dsn|api_key|private_key)$/i;
const ONLY_REFERENCES = /^(\s*\$\{[A-Za-z_][A-Za-z0-9_]*\}\s*)+$/;

/**
 * A pipeline file as the UI shows it. The file normally holds ${ENV} references, which are
 * safe to show; a secret written into it literally is not. Three layers: the value of a
 * secret-named key that is not a pure ${ENV} reference, the password part of any URL, and
 * every secret registered while loading (redact()).
 */
export function redactConfigText(text: string): string {
  let out = text;
  try {
    const doc = parseDocument(text);
    const cuts: [number, number][] = [];
    visit(doc, {
      Pair(_, pair) {
        if (!isPair(pair) || !isScalar(pair.key) || !isScalar(pair.value)) return;
        if (!SECRET_KEY.test(String(pair.key.value))) return;
        const value = String(pair.value.value ?? '');
        if (value === '' || ONLY_REFERENCES.test(value) || !pair.value.range) return;
        cuts.push([pair.value.range[0], pair.value.range[1]]);
      },
    });
    for (const [start, end] of cuts.sort((a, b) => b[0] - a[0])) out = out.slice(0, start) + REDACTED + out.slice(end);
  } catch {
    // Unparseable YAML is still shown (it is why the pipeline is invalid), with the layers below.
  }
  return redact(out);
}
