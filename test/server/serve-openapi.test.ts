import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { PG_URL, openTestDestination, tempDir, uniqueName, writeFile, type TestDestination } from '../support/databases.js';
import { startTestServer, usStatesPipeline, usStatesWarehouse, type TestServer } from './serve-fixtures.js';

/**
 * /api/openapi.json describes what the server really answers: every endpoint is called on a
 * live server and each JSON response is validated against the document's schema for its
 * path, method and status.
 */
describe('outflow serve: the OpenAPI document matches live responses', () => {
  let dir: string;
  let db: TestDestination;
  let server: TestServer;
  let doc: any;
  const table = uniqueName('openapi_states');
  const name = uniqueName('openapi');
  const token = `tok-${Math.random().toString(36).slice(2)}`;
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  const checked: string[] = [];

  beforeAll(async () => {
    dir = tempDir();
    db = await openTestDestination('postgres', dir);
    await db.query(`CREATE TABLE ${table} (name VARCHAR(100) PRIMARY KEY, abbreviation VARCHAR(2))`);
    const warehouse = await usStatesWarehouse(dir, [['Justania', 'JTX']]);
    const pipelines = join(dir, 'pipelines');
    usStatesPipeline(pipelines, { name, warehouse, table, extra: 'every: 1h\n' });
    writeFile(join(pipelines, 'broken.yaml'), 'name: broken\nmode: sideways\n');
    server = await startTestServer({ dir: pipelines, stateDir: join(dir, 'state'), env: { ...process.env, OUTFLOW_TEST_PG_URL: PG_URL, OUTFLOW_TOKEN: token } });
    const res = await fetch(`${server.url}/api/openapi.json`, { headers: { authorization: `Bearer ${token}` } });
    doc = await res.json();
    ajv.addSchema(doc, 'openapi');
  });
  afterAll(async () => {
    await server?.stop();
    await db.query(`DROP TABLE IF EXISTS ${table}`);
    await db.close();
  });

  /** Calls the API and validates the answer against the document; returns the body. */
  async function call(method: string, path: string, template: string, expected: number): Promise<any> {
    const res = await fetch(server.url + path, { method, headers: { authorization: `Bearer ${token}` } });
    expect(res.status, `${method} ${path}`).toBe(expected);
    const body = await res.json();
    const operation = doc.paths[template]?.[method.toLowerCase()];
    expect(operation, `${method} ${template} is in the document`).toBeDefined();
    expect(operation.responses[String(expected)], `${method} ${template} documents ${expected}`).toBeDefined();
    const pointer = ['paths', template, method.toLowerCase(), 'responses', String(expected), 'content', 'application/json', 'schema']
      .map((p) => encodeURIComponent(p.replace(/~/g, '~0').replace(/\//g, '~1')))
      .join('/');
    const validate = ajv.getSchema(`openapi#/${pointer}`)!;
    expect(validate, pointer).toBeDefined();
    const ok = validate(body);
    expect(ok ? [] : validate.errors, `${method} ${path} → ${expected}`).toEqual([]);
    checked.push(`${method} ${template} ${expected}`);
    return body;
  }

  it('is an OpenAPI 3.1 document listing every endpoint', () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/api/events',
        '/api/pipelines',
        '/api/pipelines/{name}',
        '/api/pipelines/{name}/config',
        '/api/pipelines/{name}/pause',
        '/api/pipelines/{name}/preview',
        '/api/pipelines/{name}/resume',
        '/api/pipelines/{name}/runs',
        '/api/pipelines/{name}/runs/{id}',
        '/api/pipelines/{name}/runs/{id}/events',
        '/api/pipelines/{name}/runs/{id}/changes',
        '/api/pipelines/{name}/runs/{id}/rejected',
        '/api/pipelines/{name}/runs/{id}/rejected.csv',
        '/api/runs/{id}',
        '/metrics',
      ].sort(),
    );
  });

  it('every JSON answer validates against it', async () => {
    const P = `/api/pipelines/${name}`;
    await call('GET', '/api/pipelines', '/api/pipelines', 200);
    await call('GET', P, '/api/pipelines/{name}', 200);
    await call('GET', '/api/pipelines/broken', '/api/pipelines/{name}', 200);
    await call('GET', '/api/pipelines/nope', '/api/pipelines/{name}', 404);
    await call('GET', `${P}/config`, '/api/pipelines/{name}/config', 200);
    await call('GET', '/api/pipelines/broken/config', '/api/pipelines/{name}/config', 200);
    await call('GET', `${P}/preview`, '/api/pipelines/{name}/preview', 200);
    await call('GET', '/api/pipelines/broken/preview', '/api/pipelines/{name}/preview', 422);
    const started = await call('POST', `${P}/runs`, '/api/pipelines/{name}/runs', 202);
    await call('POST', `${P}/runs`, '/api/pipelines/{name}/runs', 409);
    await call('GET', `${P}/runs/${started.run_id}`, '/api/pipelines/{name}/runs/{id}', 200);
    let run: any;
    for (;;) {
      run = await fetch(`${server.url}${P}/runs/${started.run_id}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json());
      if (run.status !== 'running') break;
      await new Promise((ok) => setTimeout(ok, 200));
    }
    await call('GET', `${P}/runs?limit=5`, '/api/pipelines/{name}/runs', 200);
    await call('GET', `${P}/runs?limit=nope`, '/api/pipelines/{name}/runs', 400);
    await call('GET', `${P}/runs/${started.run_id}`, '/api/pipelines/{name}/runs/{id}', 200);
    await call('GET', `/api/runs/${started.run_id}?pipeline=${name}`, '/api/runs/{id}', 200);
    await call('GET', '/api/runs/99999', '/api/runs/{id}', 404);
    await call('GET', `${P}/runs/${started.run_id}/changes`, '/api/pipelines/{name}/runs/{id}/changes', 200);
    await call('GET', `${P}/runs/${started.run_id}/rejected?q=just`, '/api/pipelines/{name}/runs/{id}/rejected', 200);
    await call('GET', `${P}/runs/${started.run_id}/events`, '/api/pipelines/{name}/runs/{id}/events', 200);
    await call('POST', `${P}/pause`, '/api/pipelines/{name}/pause', 200);
    await call('POST', `${P}/resume`, '/api/pipelines/{name}/resume', 200);
    await call('POST', '/api/pipelines/broken/runs', '/api/pipelines/{name}/runs', 422);
    expect(checked.length).toBe(22);
    // The schemas have teeth: a pipeline without its fields is refused.
    const list = ajv.getSchema('openapi#/paths/~1api~1pipelines/get/responses/200/content/application~1json/schema')!;
    expect(list({ pipelines: [{ name: 'x' }] })).toBe(false);
  });

  it('the live stream and the metrics answer with their own media types', async () => {
    const metrics = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const c = new AbortController();
    const events = await fetch(`${server.url}/api/events`, { headers: { authorization: `Bearer ${token}` }, signal: c.signal });
    expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/);
    c.abort();
  });
});
