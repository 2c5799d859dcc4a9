import { ConfigError } from '../errors.js';
import { registerSecret, registerUrlSecrets } from './redact.js';

export const SECRET_FIELD = /(url|password|passwd|token|secret|credentials|key_file|dsn|webhook)$/i;
/** Fields holding a URL whose path is itself a secret (Slack-style hooks carry their token in it). */
const WEBHOOK_FIELD = /webhook$/i;
const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Replaces ${NAME} in every string of a parsed YAML tree with the environment's value.
 * `$$` stands for a literal `$`. A missing variable is a ConfigError naming it and the field.
 * Values landing in secret-looking fields (url, password, token…) are registered for redaction.
 */
export function substituteEnv(
  node: unknown,
  env: NodeJS.ProcessEnv,
  file: string,
  path: (string | number)[] = [],
): unknown {
  if (typeof node === 'string') {
    const field = path.join('.');
    // Header values (an HTTP destination's `Authorization: Bearer ${TOKEN}`) are all secret, whatever the header is called.
    const isSecretField = SECRET_FIELD.test(String(path[path.length - 1] ?? '')) || path[path.length - 2] === 'headers';
    const out = node.replace(REFERENCE, (whole, name: string | undefined) => {
      if (whole === '$$') return '$';
      const value = env[name as string];
      if (value === undefined) {
        throw new ConfigError(`${file}: ${field}: environment variable ${name} is not set`);
      }
      if (isSecretField) registerSecret(value);
      return value;
    });
    if (isSecretField) registerUrlSecrets(out);
    // The whole webhook URL, written literally or substituted, never shows in a log or error.
    if (WEBHOOK_FIELD.test(String(path[path.length - 1] ?? ''))) registerSecret(out);
    return out;
  }
  if (Array.isArray(node)) return node.map((v, i) => substituteEnv(v, env, file, [...path, i]));
  if (node && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) out[k] = substituteEnv(v, env, file, [...path, k]);
    return out;
  }
  return node;
}
