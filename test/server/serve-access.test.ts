import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { tempDir, writeFile } from '../support/databases.js';
import { startServe } from '../../src/server/serve.js';
import { redactConfigText } from '../../src/server/config-text.js';
import { startTestServer, type TestServer } from './serve-fixtures.js';

describe('outflow serve: access', () => {
  let dir: string;
  let server: TestServer;
  const token = 'tok-' + Math.random().toString(36).slice(2);

  beforeAll(async () => {
    dir = tempDir();
    writeFile(
      join(dir, 'p.yaml'),
      `name: p\nsource: { type: duckdb, path: w.duckdb }\nmodel: { table: t }\ndestination: { type: pglite, path: db, table: t }\nprimary_key: id\n`,
    );
    server = await startTestServer({ dir, stateDir: join(dir, 'state'), env: { OUTFLOW_TOKEN: token } });
  });
  afterAll(() => server?.stop());

  it('requires the bearer token on every API call and on /metrics when OUTFLOW_TOKEN is set', async () => {
    for (const path of ['/api/pipelines', '/api/pipelines/p/runs', '/metrics', '/api/events']) {
      const res = await fetch(server.url + path);
      expect(res.status, path).toBe(401);
      expect(await res.json()).toEqual({ error: 'missing or wrong bearer token (Authorization: Bearer $OUTFLOW_TOKEN)' });
    }
    expect((await fetch(server.url + '/api/pipelines', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await fetch(server.url + '/api/pipelines', { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect((await ok.json()).pipelines.map((p: any) => p.name)).toEqual(['p']);
    // The page shell holds no data; it asks for the token and sends it with each API call.
    expect((await fetch(server.url + '/')).status).toBe(200);
    expect(server.logs.some((l) => l.includes(token))).toBe(false);
  });

  it('refuses to bind beyond loopback without a token', async () => {
    await expect(startServe({ dir, host: '0.0.0.0', port: 0, env: {}, logLine: () => undefined })).rejects.toThrow(
      '--host 0.0.0.0: binding beyond loopback needs OUTFLOW_TOKEN set, so the API is not open to the network',
    );
  });

  it('redacts literal secrets in a config file but keeps ${ENV} references', () => {
    const text = [
      'source:',
      '  type: mysql',
      '  url: mysql://app:s3cr3t-pw@db:3306/x',
      '  password: "hunter2-literal"',
      'destination:',
      '  url: ${DATABASE_URL}',
      '  token: ${API_TOKEN}',
      '',
    ].join('\n');
    const out = redactConfigText(text);
    expect(out).toBe(
      ['source:', '  type: mysql', '  url: mysql://app:***@db:3306/x', '  password: ***', 'destination:', '  url: ${DATABASE_URL}', '  token: ${API_TOKEN}', ''].join('\n'),
    );
  });
});
