import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { ConnectionError, TransientError } from '../../src/errors.js';
import { classifyPgError } from '../../src/sources/postgres/postgres-connection.js';
import { wrapPgError } from '../../src/destinations/postgres/pg-errors.js';
import { PG_URL, tempDir, uniqueName, writeFile } from '../support/databases.js';

/** The Postgres source and destination give a driver fault the same kind: retried, or fatal. */
describe('Postgres fault classes', () => {
  const fault = (code: string, message = 'x') => Object.assign(new Error(message), { code });

  it.each([
    ['ECONNREFUSED', TransientError],
    ['ECONNRESET', TransientError],
    ['57P01', TransientError], // admin shutdown
    ['40001', TransientError], // serialization failure
    ['08006', TransientError], // connection failure
    ['28P01', ConnectionError], // bad password
    ['3D000', ConnectionError], // no such database
    ['ENOTFOUND', ConnectionError],
  ])('%s is a %o on both sides', (code, kind) => {
    expect(classifyPgError(fault(code), 'reading the model')).toBeInstanceOf(kind);
    expect(wrapPgError('destination', fault(code))).toBeInstanceOf(kind);
  });

  it('a source whose server refuses connections is tried again, then the run says it gave up', async () => {
    const dir = tempDir();
    const refused = PG_URL.replace(/:\d+\//, ':1/');
    const file = writeFile(
      join(dir, 'p.yaml'),
      `name: ${uniqueName('refused')}\nsource:\n  type: postgres\n  url: ${refused}\nmodel:\n  query: SELECT 1 AS id\ndestination:\n  type: pglite\n  path: ${join(dir, 'pg')}\n  table: t\nprimary_key: id\nretry:\n  attempts: 2\n  initial_delay: 10ms\nstate:\n  dir: ${join(dir, 'state')}\n`,
    );
    const r = await runPipeline(loadPipeline(file));
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/postgres source: cannot connect: .*ECONNREFUSED.*\(gave up after 2 attempts; retry\.attempts is 2\)/);
    expect(r.stages.filter((s) => s.stage.startsWith('retry 1:'))).toHaveLength(1);
  });
});
