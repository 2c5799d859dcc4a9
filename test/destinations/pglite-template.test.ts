import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectEmbedded } from '../../src/destinations/postgres/pg-session.js';
import { pgliteTemplateFile } from '../../src/destinations/postgres/pglite-template.js';

const root = mkdtempSync(join(tmpdir(), 'outflow-pglite-template-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function systemIdentifier(dir: string): Promise<string> {
  const s = await connectEmbedded(dir);
  try {
    const r = await s.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
    await s.query('CREATE TABLE IF NOT EXISTS t (a int)');
    return r.rows[0].id;
  } finally {
    await s.close();
  }
}

describe('a new embedded Postgres starts from the shipped data folder, not initdb', () => {
  it('ships a template for the installed PGlite version (regenerate with npm run pglite-template)', () => {
    expect(existsSync(pgliteTemplateFile())).toBe(true);
  });

  it('two new data folders share the template system identifier (initdb would make a random one each); a reopened folder keeps its data', async () => {
    const a = await systemIdentifier(join(root, 'a'));
    const b = await systemIdentifier(join(root, 'b'));
    expect(a).toBe(b);
    expect(await systemIdentifier(join(root, 'a'))).toBe(a);
  });
});
