/**
 * What the Postgres source and destination share about connecting with node-postgres.
 *
 * `sslmode` in a URL: pg 8 reads require/prefer/verify-ca as verify-full (it checks the
 * certificate, so a server with a self-signed one is refused) and prints an 11-line
 * SECURITY WARNING saying so. Users who write sslmode=require mean libpq's require: encrypt,
 * do not verify. pg's own switch for libpq's meaning is `uselibpqcompat=true` in the URL; it
 * is added whenever the URL names an sslmode and does not choose itself.
 */
export function libpqCompatibleUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url; // not a URL outflow can read: pg reports it
  }
  if (!parsed.searchParams.has('sslmode') || parsed.searchParams.has('uselibpqcompat')) return url;
  parsed.searchParams.set('uselibpqcompat', 'true');
  return parsed.toString();
}

/**
 * pg's error when the server asks for a password (SCRAM) and the URL has none is about SASL
 * message internals; say what happened and what to do instead.
 */
export function missingPasswordMessage(e: unknown): string | undefined {
  const message = (e as Error | undefined)?.message ?? '';
  if (!/client password must be a (non-empty )?string/.test(message)) return undefined;
  return 'the server asks for a password and the URL has none: add it from the environment, e.g. url: postgres://user:${DB_PASSWORD}@host:5432/db';
}
