import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { buildCli, removeCliBuild, runCli, startCli, startPaused, killHard } from '../support/cli-process.js';
import { US_STATES_CSV, duckdbExec, tempDir, uniqueName, writeFile } from '../support/databases.js';
import { rowsOf, startTestApi, type ReceivedRequest, type TestApi } from '../support/http-test-server.js';

const REDIS_URL = process.env.OUTFLOW_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/**
 * The record destinations from the command line, as a user runs them: the US-states
 * scenario (59 → 60 → 61 rows, Justania ends as JA) into an HTTP API the test starts and
 * into the real Redis; a run killed after some HTTP batches and the run after it; and
 * `validate` refusing a mode HTTP does not offer. Assertions are on what the API received
 * and what Redis holds.
 */
beforeAll(() => buildCli(), 120_000);
afterAll(() => removeCliBuild());

async function usStatesWarehouse(dir: string): Promise<string> {
  const warehouse = join(dir, 'warehouse.duckdb');
  await duckdbExec(warehouse, `CREATE TABLE state_abbreviations AS SELECT * FROM read_csv('${US_STATES_CSV}')`);
  return warehouse;
}

function pipeline(dir: string, name: string, warehouse: string, destination: string, mode = 'upsert', table = 'state_abbreviations', key = 'name'): string {
  return writeFile(
    join(dir, `${name}-${mode}.yaml`),
    `name: ${name}
source:
  type: duckdb
  path: ${warehouse}
model:
  table: ${table}
destination:
${destination}
primary_key: ${key}
mode: ${mode}
state:
  dir: ${join(dir, 'state')}
retry:
  attempts: 2
  initial_delay: 100ms
`,
  );
}

async function run(file: string): Promise<{ status: string; counts: Record<string, number> }> {
  const r = await runCli(['--json', 'run', file]);
  expect(r.code, r.stderr + r.stdout).toBe(0);
  return JSON.parse(r.stdout);
}

/** An API keeping records by name, like a CRM would: POST upserts a batch, DELETE /states/{name} removes one. */
function statesApi(api: TestApi): Map<string, Record<string, unknown>> {
  const records = new Map<string, Record<string, unknown>>();
  api.handle((r) => {
    if (r.method === 'POST') for (const row of rowsOf(r)) records.set(String(row.name), row);
    if (r.method === 'DELETE') records.delete(decodeURIComponent(r.url.split('/').pop()!));
    return { status: 200, body: { ok: true } };
  });
  return records;
}

describe('US-states scenario into an HTTP API (batch_size 10)', () => {
  let api: TestApi;
  let dir: string;
  let warehouse: string;
  let records: Map<string, Record<string, unknown>>;
  const name = uniqueName('us_states_http');
  const destination = () => `  type: http\n  url: ${api.url}/states\n  batch_size: 10\n  headers:\n    Authorization: Bearer \${TEST_API_TOKEN}\n  removed:\n    url: ${api.url}/states/{name}`;
  const received = (): ReceivedRequest[] => api.received.splice(0);

  beforeAll(async () => {
    api = await startTestApi();
    records = statesApi(api);
    dir = tempDir();
    warehouse = await usStatesWarehouse(dir);
    process.env.TEST_API_TOKEN = 'tok_' + uniqueName('secret');
  });
  afterAll(async () => {
    await api.close();
  });

  function expectWellFormed(reqs: ReceivedRequest[]) {
    for (const q of reqs) {
      expect(q.headers['idempotency-key']).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(q.headers.authorization).toBe(`Bearer ${process.env.TEST_API_TOKEN}`);
      if (q.method === 'POST') expect(rowsOf(q).length).toBeLessThanOrEqual(10);
    }
  }

  it('step 1: 59 rows in POSTs of at most 10, each with an Idempotency-Key', async () => {
    const r = await run(pipeline(dir, name, warehouse, destination()));
    expect(r.status).toBe('success');
    expect(r.counts).toMatchObject({ read: 59, added: 59, sent: 59, rejected: 0 });
    const reqs = received();
    expectWellFormed(reqs);
    expect(reqs.map((q) => rowsOf(q).length)).toEqual([10, 10, 10, 10, 10, 9]);
    expect(new Set(reqs.map((q) => q.headers['idempotency-key'])).size).toBe(6);
    expect(records.size).toBe(59);
    expect(records.get('Ohio')).toEqual({ name: 'Ohio', abbreviation: 'OH' });
  });

  it('step 2: the one new row (60)', async () => {
    await duckdbExec(warehouse, `INSERT INTO state_abbreviations VALUES ('Justania', 'JT')`);
    const r = await run(pipeline(dir, name, warehouse, destination()));
    expect(r.counts).toMatchObject({ read: 60, added: 1, changed: 0, sent: 1 });
    const reqs = received();
    expectWellFormed(reqs);
    expect(reqs.map((q) => rowsOf(q))).toEqual([[{ name: 'Justania', abbreviation: 'JT' }]]);
    expect(records.size).toBe(60);
  });

  it('step 3: one change and one new row (61); Justania ends as JA', async () => {
    await duckdbExec(warehouse, [`UPDATE state_abbreviations SET abbreviation = 'JA' WHERE name = 'Justania'`, `INSERT INTO state_abbreviations VALUES ('Justintucky', 'JK')`]);
    const r = await run(pipeline(dir, name, warehouse, destination()));
    expect(r.counts).toMatchObject({ read: 61, added: 1, changed: 1, sent: 2 });
    const reqs = received();
    expectWellFormed(reqs);
    expect(reqs.flatMap((q) => rowsOf(q)).sort((a, b) => String(a.name).localeCompare(String(b.name)))).toEqual([
      { name: 'Justania', abbreviation: 'JA' },
      { name: 'Justintucky', abbreviation: 'JK' },
    ]);
    expect(records.size).toBe(61);
    expect(records.get('Justania')?.abbreviation).toBe('JA');
  });

  it('mirror sends DELETE /states/{name} for the row that left the model', async () => {
    await duckdbExec(warehouse, `DELETE FROM state_abbreviations WHERE name = 'Justintucky'`);
    const r = await run(pipeline(dir, name, warehouse, destination(), 'mirror'));
    expect(r.counts).toMatchObject({ removed: 1, deleted: 1 });
    const reqs = received();
    expectWellFormed(reqs);
    expect(reqs.map((q) => `${q.method} ${q.url}`)).toEqual(['DELETE /states/Justintucky']);
    expect(records.size).toBe(60);
  });

  it('preview shows the requests it would send, and sends none', async () => {
    await duckdbExec(warehouse, `UPDATE state_abbreviations SET abbreviation = 'OX' WHERE name = 'Ohio'`);
    const r = await runCli(['--json', 'preview', pipeline(dir, name, warehouse, destination())]);
    expect(r.code, r.stderr).toBe(0);
    const pv = JSON.parse(r.stdout);
    expect(pv.writes[0]).toMatchObject({ op: 'changed', rows: 1, request: `POST ${api.url}/states`, body: '[{"name":"Ohio","abbreviation":"OX"}]' });
    expect(r.stdout).not.toContain(process.env.TEST_API_TOKEN);
    expect(received()).toEqual([]);
  });

  it('validate refuses replace, naming the modes HTTP offers', async () => {
    const r = await runCli(['validate', pipeline(dir, name, warehouse, destination(), 'replace')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('mode: destination http does not offer mode replace; it offers upsert, insert_new, mirror');
    expect(received()).toEqual([]);
  });
});

describe('US-states scenario into Redis (key state:{name})', () => {
  let redis: Redis;
  let dir: string;
  let warehouse: string;
  const prefix = uniqueName('state');
  const name = uniqueName('us_states_redis');
  const destination = `  type: redis\n  url: ${REDIS_URL}\n  key: "${prefix}:{name}"`;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    dir = tempDir();
    warehouse = await usStatesWarehouse(dir);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('59 → 60 → 61 hashes; HGET state:Justania abbreviation is JA', async () => {
    expect((await run(pipeline(dir, name, warehouse, destination))).counts).toMatchObject({ added: 59, sent: 59 });
    expect(await redis.keys(`${prefix}:*`)).toHaveLength(59);
    await duckdbExec(warehouse, `INSERT INTO state_abbreviations VALUES ('Justania', 'JT')`);
    expect((await run(pipeline(dir, name, warehouse, destination))).counts).toMatchObject({ added: 1, sent: 1 });
    await duckdbExec(warehouse, [`UPDATE state_abbreviations SET abbreviation = 'JA' WHERE name = 'Justania'`, `INSERT INTO state_abbreviations VALUES ('Justintucky', 'JK')`]);
    expect((await run(pipeline(dir, name, warehouse, destination))).counts).toMatchObject({ added: 1, changed: 1, sent: 2 });
    expect(await redis.keys(`${prefix}:*`)).toHaveLength(61);
    expect(await redis.hget(`${prefix}:Justania`, 'abbreviation')).toBe('JA');
    expect(await redis.hgetall(`${prefix}:Ohio`)).toEqual({ name: 'Ohio', abbreviation: 'OH' });
    const v = await runCli(['--json', 'verify', pipeline(dir, name, warehouse, destination)]);
    expect(JSON.parse(v.stdout)).toMatchObject({ equal: true, modelRows: 61, destinationRows: 61 });
  });

  it('mirror deletes exactly the key of the removed row', async () => {
    await redis.hset(`${prefix}:Justintucky:notes`, 'n', '1'); // another shape under the prefix: not ours
    await duckdbExec(warehouse, `DELETE FROM state_abbreviations WHERE name = 'Justintucky'`);
    expect((await run(pipeline(dir, name, warehouse, destination, 'mirror'))).counts).toMatchObject({ removed: 1, deleted: 1 });
    expect(await redis.exists(`${prefix}:Justintucky`)).toBe(0);
    expect(await redis.exists(`${prefix}:Justintucky:notes`)).toBe(1);
    expect(await redis.keys(`${prefix}:*`)).toHaveLength(61); // 60 states and the notes
  });
});

describe('HTTP: a run killed after some batches, then the next run', () => {
  let api: TestApi;
  let dir: string;

  beforeAll(async () => {
    api = await startTestApi();
    dir = tempDir();
  });
  afterAll(async () => {
    await api.close();
  });

  it('re-sends the batches with the same idempotency keys, and the API ends with every row', async () => {
    const warehouse = join(dir, 'items.duckdb');
    await duckdbExec(warehouse, `CREATE TABLE items AS SELECT i AS id, 'item ' || i AS label FROM range(1, 201) t(i)`);
    const name = uniqueName('items_http');
    const file = pipeline(dir, name, warehouse, `  type: http\n  url: ${api.url}/items\n  batch_size: 10\n  concurrency: 1`, 'upsert', 'items', 'id');
    const accepted = new Map<string, unknown>();
    // First run: five batches accepted, then the API stops answering and the run is killed.
    let stall!: () => void;
    const stalled = new Promise<void>((r) => (stall = r));
    api.handle((r, n) => {
      if (n < 5) {
        for (const row of rowsOf(r)) accepted.set(String(row.id), row);
        return { status: 200 };
      }
      stall();
      return new Promise(() => undefined);
    });
    const first = startCli(['run', file]);
    const ended = await Promise.race([stalled.then(() => undefined), first.done]);
    expect(ended, ended && ended.stderr).toBeUndefined();
    await killHard(first);
    const firstKeys = api.received.slice(0, 5).map((q) => q.headers['idempotency-key']);
    // The same rows, stored in another order: batches follow the key, not the storage order.
    await duckdbExec(warehouse, `CREATE OR REPLACE TABLE items AS SELECT * FROM items ORDER BY hash(id)`);
    expect(accepted.size).toBe(50);
    // An API that honours the key answers a repeat with the stored answer and applies nothing.
    const seen = new Set(firstKeys);
    let repeats = 0;
    api.received.splice(0);
    api.handle((r) => {
      if (seen.has(String(r.headers['idempotency-key']))) {
        repeats++;
        return { status: 200 };
      }
      for (const row of rowsOf(r)) accepted.set(String(row.id), row);
      return { status: 200 };
    });
    const second = await run(file);
    expect(second.counts).toMatchObject({ sent: 200 });
    const secondKeys = api.received.map((q) => q.headers['idempotency-key']);
    // Every batch the killed run delivered came again with the same key…
    for (const k of firstKeys) expect(secondKeys).toContain(k);
    expect(repeats).toBe(5);
    // …and the API holds every row once.
    expect(accepted.size).toBe(200);
    expect(api.received.every((q) => rowsOf(q).length <= 10)).toBe(true);
  });
});

describe('Redis: a run killed after its first batch, then the next run', () => {
  let redis: Redis;
  let dir: string;
  const prefix = uniqueName('item');

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    dir = tempDir();
  });
  afterAll(async () => {
    for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 1000 }) as AsyncIterable<string[]>) if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('leaves whole batches behind, and the next run converges (verify: equal)', async () => {
    const warehouse = join(dir, 'items.duckdb');
    await duckdbExec(warehouse, `CREATE TABLE items AS SELECT i AS id, 'item ' || i AS label, i % 7 AS v FROM range(1, 5001) t(i)`);
    const file = pipeline(dir, uniqueName('items_redis'), warehouse, `  type: redis\n  url: ${REDIS_URL}\n  key: "${prefix}:{id}"\n  batch_size: 500`, 'upsert', 'items', 'id');
    const started = await startPaused(['run', file], 'write', join(dir, 'pause'));
    expect(started.paused, started.result?.stderr).toBe(true);
    await killHard(started.run);
    // One MULTI/EXEC went through whole; nothing of the next one.
    expect(await redis.keys(`${prefix}:*`)).toHaveLength(500);
    const r = await run(file);
    expect(r.counts).toMatchObject({ sent: 5000 });
    expect(await redis.keys(`${prefix}:*`)).toHaveLength(5000);
    const v = await runCli(['--json', 'verify', file]);
    expect(JSON.parse(v.stdout)).toMatchObject({ equal: true, modelRows: 5000, destinationRows: 5000 });
  });
});
