import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openTestDestination, tempDir, uniqueName, writeFile, type TestDestination } from '../support/databases.js';
import { passwordRole, startTestServer, usStatesPipeline, usStatesWarehouse, type TestServer } from './serve-fixtures.js';

/**
 * The destination password reaches outflow through ${ENV}; it must never come back out:
 * not in an API response, a page, the metrics, the live event stream or a log line.
 */
describe('outflow serve: secrets', () => {
  let dir: string;
  let db: TestDestination;
  let role: Awaited<ReturnType<typeof passwordRole>>;
  let server: TestServer;
  const tables = { good: uniqueName('secret_ok'), bad: uniqueName('secret_bad') };
  const events: string[] = [];

  beforeAll(async () => {
    dir = tempDir();
    db = await openTestDestination('postgres', dir);
    role = await passwordRole(db);
    const warehouse = await usStatesWarehouse(dir, [['Justania', 'JTX']]);
    await db.query(`CREATE TABLE ${tables.good} (name VARCHAR(100) PRIMARY KEY, abbreviation VARCHAR(2))`);
    await db.query(`ALTER TABLE ${tables.good} OWNER TO ${role.role}`);
    const pipelines = join(dir, 'pipelines');
    usStatesPipeline(pipelines, { name: 'with_password', warehouse, table: tables.good, urlEnv: 'SECRET_PG_URL' });
    // The same password on a port where nothing listens: the connection error must not quote it.
    usStatesPipeline(pipelines, { name: 'cannot_connect', warehouse, table: tables.bad, urlEnv: 'SECRET_BAD_URL' });
    // Someone wrote the password into a file: the config view must still hide it.
    writeFile(
      join(pipelines, 'literal.yaml'),
      `name: literal\nsource: { type: duckdb, path: ${warehouse} }\nmodel: { table: state_abbreviations }\ndestination:\n  type: postgres\n  url: ${role.url}\n  table: ${tables.bad}\nprimary_key: name\n`,
    );
    const badUrl = new URL(role.url);
    badUrl.port = '1';
    server = await startTestServer({
      dir: pipelines,
      stateDir: join(dir, 'state'),
      env: { ...process.env, SECRET_PG_URL: role.url, SECRET_BAD_URL: badUrl.toString() },
    });
    // Listen to the live event stream for the whole test.
    const res = await fetch(`${server.url}/api/events`);
    const reader = res.body!.getReader();
    void (async () => {
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (done) return;
        events.push(Buffer.from(value!).toString());
      }
    })();
  });

  afterAll(async () => {
    await server?.stop();
    await db.query(`DROP TABLE IF EXISTS ${tables.good}, ${tables.bad}`);
    await role.drop();
    await db.close();
  });

  it('never shows the destination password anywhere', async () => {
    for (const name of ['with_password', 'cannot_connect', 'literal']) {
      const { status, body } = await server.post(`/api/pipelines/${name}/runs`);
      expect(status).toBe(202);
      await server.waitForRun(name, body.run_id);
    }
    const runs = Object.fromEntries(
      await Promise.all(['with_password', 'cannot_connect'].map(async (n) => [n, (await server.get(`/api/pipelines/${n}/runs`)).body.runs[0]])),
    );
    // The runs really used the role: one delivered as it, one failed to connect.
    expect(runs.with_password).toMatchObject({ status: 'partial', counts: { inserted: 59, rejected: 1 } });
    expect(await db.query(`SELECT count(*)::int AS n FROM ${tables.good}`)).toEqual([{ n: 59 }]);
    expect(runs.cannot_connect.status).toBe('failed');
    expect(runs.cannot_connect.error).toMatch(/ECONNREFUSED|connect/);

    for (const name of ['with_password', 'cannot_connect', 'literal']) {
      await server.get(`/api/pipelines/${name}`);
      await server.get(`/api/pipelines/${name}/runs`);
      await server.get(`/api/pipelines/${name}/config`);
      await server.get(`/api/pipelines/${name}/preview`);
    }
    const literal = await server.get('/api/pipelines/literal/config');
    expect(literal.body.text).toContain(`url: postgres://${role.role}:***@127.0.0.1:5432/test`);
    await server.get(`/api/runs/${runs.with_password.id}`);
    await server.get(`/api/runs/${runs.cannot_connect.id}`);
    await server.get('/api/pipelines');
    await server.get('/metrics');
    // The page shell names the built script and stylesheet (hashed file names).
    const assets = [...(await server.get('/')).text.matchAll(/\/ui\/assets\/[^"]+/g)].map((m) => m[0]);
    expect(assets.length).toBe(2);
    for (const page of ['/', '/pipelines/with_password', `/pipelines/with_password/runs/${runs.with_password.id}`, ...assets]) {
      expect((await server.get(page)).status).toBe(200);
    }
    await server.stop();

    const everything = { responses: server.bodies, logs: server.logs, events };
    expect(server.bodies.length).toBeGreaterThan(20);
    expect(server.logs.length).toBeGreaterThan(20);
    expect(events.join('')).toContain('run.finished');
    for (const [where, texts] of Object.entries(everything)) {
      const leaks = texts.filter((t) => t.includes(role.password) || t.includes(encodeURIComponent(role.password)));
      expect(leaks, `password found in ${where}`).toEqual([]);
    }
    // The role name is not secret and shows where the password was cut out.
    expect(server.bodies.join('\n')).toContain(`${role.role}:***@`);
  });
});
