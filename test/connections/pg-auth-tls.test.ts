import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { validateCommand } from '../../src/cli/validate-command.js';
import { callCommand } from '../support/command-output.js';
import { PG_URL, tempDir, uniqueName, writeFile } from '../support/databases.js';
import { scramServer, tlsTerminator, type StandIn } from '../support/pg-stand-ins.js';

const dir = tempDir('outflow-auth-tls-');
const upstream = new URL(PG_URL);
let tls: StandIn;
let scram: StandIn;
beforeAll(async () => {
  tls = await tlsTerminator(Number(upstream.port || 5432));
  scram = await scramServer();
});
afterAll(async () => {
  await tls.close();
  await scram.close();
});

function pipelineTo(url: string): string {
  return writeFile(
    join(dir, `${uniqueName('p')}.yaml`),
    `source: { type: duckdb, setup: "CREATE TABLE t AS SELECT 1 AS id" }
model: { table: t }
destination: { type: postgres, url: "${url}", table: ${uniqueName('auth')} }
primary_key: id
`,
  );
}

describe('connecting to Postgres', () => {
  it('sslmode=require in the URL encrypts without verifying the certificate (libpq), with no SECURITY WARNING', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const url = `postgres://${upstream.username}@127.0.0.1:${tls.port}${upstream.pathname}?sslmode=require`;
      const out = await callCommand(validateCommand, [pipelineTo(url)]);
      expect(out.code).toBe(0);
      // The session really went through TLS: the stand-in only forwards after a handshake.
      const client = new pg.Client({ connectionString: `${url}&uselibpqcompat=true` });
      await client.connect();
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await client.end();
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => /SECURITY WARNING/.test(w))).toEqual([]);
  });

  it('no password against a server that asks for one says so plainly', async () => {
    const url = `postgres://app@127.0.0.1:${scram.port}/db`;
    await expect(callCommand(validateCommand, [pipelineTo(url)])).rejects.toThrow(
      /cannot connect: the server asks for a password and the URL has none: add it from the environment/,
    );
  });
});
