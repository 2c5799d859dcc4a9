import pg from 'pg';
import { PG_URL } from './databases.js';

/**
 * A schema of its own in the test database for outflow's shared state (`?schema=` on the
 * state URL), so test files never see each other's runs or locks; `drop` removes it.
 */
export function stateSchema(): { schema: string; url: string; drop(): Promise<void> } {
  const schema = `outflow_test_${Math.random().toString(36).slice(2, 10)}`;
  const u = new URL(PG_URL);
  u.searchParams.set('schema', schema);
  return {
    schema,
    url: u.toString(),
    async drop() {
      await withPg((c) => c.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`));
    },
  };
}

export async function withPg<T>(work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}
