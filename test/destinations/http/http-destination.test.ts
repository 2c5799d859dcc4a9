import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { HttpDestination } from '../../../src/destinations/http/http-destination.js';
import { httpDestinationConfig } from '../../../src/destinations/http/http-config.js';
import type { DeltaRecord, RecordBatch } from '../../../src/destinations/destination.js';
import type { SyncMode } from '../../../src/config/pipeline-schema.js';

type ChangeKind = DeltaRecord['op'];
type RecordRow = DeltaRecord;
import type { Column, Value } from '../../../src/types/logical-type.js';
import { redact } from '../../../src/config/redact.js';
import { rowsOf, startTestApi, type TestApi } from '../../support/http-test-server.js';

const columns: Column[] = [
  { name: 'id', type: { kind: 'int64' }, nullable: false },
  { name: 'name', type: { kind: 'text' }, nullable: true },
];

function rows(n: number, kind: ChangeKind = 'added', from = 1, tag = ''): RecordRow[] {
  return Array.from({ length: n }, (_, i) => {
    const id = BigInt(from + i);
    const values: Value[] = [id, `name ${from + i}${tag}`];
    if (kind === 'removed') return { rn: i + 1, op: kind, key: [id] };
    return { rn: i + 1, op: kind, key: [id], hash: createHash('md5').update(String(values)).digest('hex'), values };
  });
}

const delivery = { pipeline: 'customers_to_api', runId: 1, snapshotVersion: 1, fingerprint: 'f' };
let mode: SyncMode = 'upsert';
function batch(r: RecordRow[], cols = columns): RecordBatch {
  return { mode, columns: cols, keys: ['id'], records: r, delivery };
}

const retry = { attempts: 3, initial_delay: 50, max_delay: 200 };
let api: TestApi;
let dest: HttpDestination | undefined;

function open(extra: Record<string, unknown> = {}, asMode: SyncMode = 'upsert') {
  mode = asMode;
  const config = httpDestinationConfig.parse({ type: 'http', url: `${api.url}/customers`, ...extra });
  dest = new HttpDestination(config, { retry });
  return dest;
}

afterEach(async () => {
  await dest?.close();
  dest = undefined;
  await api?.close();
});

describe('HTTP destination', () => {
  it('POSTs JSON arrays of at most batch_size typed rows, each request with an Idempotency-Key', async () => {
    api = await startTestApi();
    const typed: Column[] = [
      { name: 'id', type: { kind: 'int64' }, nullable: false },
      { name: 'big', type: { kind: 'int64' }, nullable: true },
      { name: 'price', type: { kind: 'decimal', precision: 12, scale: 2 }, nullable: true },
      { name: 'score', type: { kind: 'float64' }, nullable: true },
      { name: 'seen', type: { kind: 'timestamptz' }, nullable: true },
      { name: 'born', type: { kind: 'timestamp' }, nullable: true },
      { name: 'raw', type: { kind: 'bytes' }, nullable: true },
      { name: 'ok', type: { kind: 'bool' }, nullable: true },
      { name: 'doc', type: { kind: 'json' }, nullable: true },
      { name: 'tags', type: { kind: 'array', element: { kind: 'text' } }, nullable: true },
      { name: 'note', type: { kind: 'text' }, nullable: true },
    ];
    const d = open({ batch_size: 10 });
    const many: RecordRow[] = Array.from({ length: 25 }, (_, i) => ({
      rn: i + 1,
      op: 'added',
      key: [BigInt(i)],
      hash: `h${i}`,
      values: [BigInt(i), 9007199254740993n, '12.50', 0.25, '2026-01-02 03:04:05.123456+00', '2026-01-02 03:04:05', new Uint8Array([1, 2, 255]), true, '{"a":[1,2]}', ['x', 'y'], null],
    }));
    const r = await d.write(batch(many, typed));
    expect(r).toEqual({ delivered: 25, rejected: [] });
    expect(api.received.map((q) => rowsOf(q).length)).toEqual([10, 10, 5]);
    for (const q of api.received) {
      expect(q.method).toBe('POST');
      expect(q.url).toBe('/customers');
      expect(q.headers['content-type']).toBe('application/json');
      expect(q.headers['idempotency-key']).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
    expect(new Set(api.received.map((q) => q.headers['idempotency-key'])).size).toBe(3);
    expect(rowsOf(api.received[0])[3]).toEqual({
      id: 3,
      big: '9007199254740993',
      price: '12.50',
      score: 0.25,
      seen: '2026-01-02T03:04:05.123456Z',
      born: '2026-01-02T03:04:05',
      raw: 'AQL/',
      ok: true,
      doc: { a: [1, 2] },
      tags: ['x', 'y'],
      note: null,
    });
  });

  it('big_numbers: number writes big integers and decimals as exact JSON numbers', async () => {
    api = await startTestApi();
    const d = open({ big_numbers: 'number' });
    const typed: Column[] = [
      { name: 'id', type: { kind: 'int64' }, nullable: false },
      { name: 'price', type: { kind: 'decimal', precision: 30, scale: 2 }, nullable: true },
    ];
    await d.write(batch([{ rn: 1, op: 'added', key: [9007199254740993n], hash: 'h', values: [9007199254740993n, '123456789012345678901234.50'] }], typed));
    expect(api.received[0].body).toBe('[{"id":9007199254740993,"price":123456789012345678901234.50}]');
  });

  it('the Idempotency-Key depends on the pipeline, the change kind and the rows: same rows, same key', async () => {
    api = await startTestApi();
    const d = open({ batch_size: 100 });
    await d.write(batch(rows(5)));
    await d.write(batch(rows(5)));
    await d.write(batch(rows(5, 'changed')));
    await d.write(batch(rows(5, 'added', 1, ' (edited)')));
    await d.write(batch(rows(4)));
    const keys = api.received.map((q) => q.headers['idempotency-key']);
    expect(keys[0]).toBe(keys[1]);
    expect(new Set([keys[0], keys[2], keys[3], keys[4]]).size).toBe(4);
  });

  it('a 429 with Retry-After: 1, twice, then 200: every row arrives exactly once and the wait is honoured', async () => {
    api = await startTestApi((_r, n) => (n < 2 ? { status: 429, headers: { 'retry-after': '1' }, body: { message: 'slow down' } } : { status: 200 }));
    const d = open();
    const r = await d.write(batch(rows(40)));
    expect(r.delivered).toBe(40);
    expect(r.rejected).toEqual([]);
    expect(api.received).toHaveLength(3);
    // Measured at the server: from the 429 going out to the next request arriving.
    for (const n of [0, 1]) expect(api.received[n + 1].at - api.answeredAt.get(n)!).toBeGreaterThanOrEqual(990);
    // The same request each time (same rows, same key); the rows were accepted once.
    expect(new Set(api.received.map((q) => q.headers['idempotency-key'])).size).toBe(1);
    expect(rowsOf(api.received[2]).map((x) => x.id)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it('Retry-After as an HTTP date is honoured too', async () => {
    api = await startTestApi((_r, n) => (n === 0 ? { status: 429, headers: { 'retry-after': new Date(Date.now() + 3000).toUTCString() } } : { status: 200 }));
    const d = open();
    expect((await d.write(batch(rows(3)))).delivered).toBe(3);
    // The date is 3 s ahead in whole seconds (2–3 s after the answer): the wait is well over 1.5 s.
    expect(api.received[1].at - api.answeredAt.get(0)!).toBeGreaterThanOrEqual(1500);
  });

  it('a 422 refusing 2 rows of a 100-row batch leaves exactly those 2 rejected, with its message', async () => {
    const bad = new Set([17, 64]);
    api = await startTestApi((r) => {
      const refused = rowsOf(r).filter((x) => bad.has(Number(x.id)));
      return refused.length ? { status: 422, body: { error: { message: `id ${refused.map((x) => x.id).join(',')}: email is invalid` } } } : { status: 201 };
    });
    const d = open({ batch_size: 100 });
    const r = await d.write(batch(rows(100)));
    expect(r.delivered).toBe(98);
    expect(r.rejected.map((x) => x.rn).sort((a, b) => a - b)).toEqual([17, 64]);
    expect(r.rejected[0].reason).toMatch(/^POST refused the row: HTTP 422 Unprocessable (Content|Entity): id (17|64): email is invalid$/);
    // Every row the API accepted, it accepted once.
    const accepted = api.received.filter((q) => !rowsOf(q).some((x) => bad.has(Number(x.id)))).flatMap((q) => rowsOf(q).map((x) => x.id));
    expect(accepted.length).toBe(98);
    expect(new Set(accepted).size).toBe(98);
  });

  it('max_requests_per_second: 5 holds (requests counted per second at the server)', async () => {
    api = await startTestApi();
    const d = open({ batch_size: 1, max_requests_per_second: 5, concurrency: 8 });
    const t0 = performance.now();
    await d.write(batch(rows(16)));
    expect(api.received).toHaveLength(16);
    const perSecond = new Map<number, number>();
    for (const q of api.received) {
      const s = Math.floor((q.at - t0) / 1000);
      perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
    }
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(5);
    expect(perSecond.size).toBeGreaterThanOrEqual(4); // 16 requests at 5 a second span at least 4 seconds
  });

  it('5xx answers are retried with the same Idempotency-Key; the rows are delivered once', async () => {
    api = await startTestApi((_r, n) => (n < 2 ? { status: 503, body: 'busy' } : { status: 200 }));
    const d = open();
    expect(await d.write(batch(rows(3)))).toEqual({ delivered: 3, rejected: [] });
    expect(api.received).toHaveLength(3);
    expect(new Set(api.received.map((q) => q.headers['idempotency-key'])).size).toBe(1);
  });

  it('a reset connection and a request with no answer in time are retried with the same Idempotency-Key', async () => {
    api = await startTestApi(async (_r, n) => {
      if (n === 0) throw Object.assign(new Error('reset'), { destroy: true });
      if (n === 1) await new Promise((r) => setTimeout(r, 1500));
      return { status: 200 };
    });
    const d = open({ timeout: '500ms' });
    expect(await d.write(batch(rows(4)))).toEqual({ delivered: 4, rejected: [] });
    expect(api.received).toHaveLength(3);
    expect(new Set(api.received.map((q) => q.headers['idempotency-key'])).size).toBe(1);
  });

  it('5xx beyond retry.attempts fails the batch with a transient error naming the answer', async () => {
    api = await startTestApi(() => ({ status: 502, body: { message: 'upstream down' } }));
    const d = open();
    await expect(d.write(batch(rows(3)))).rejects.toThrow(/http POST 127\.0\.0\.1:\d+: HTTP 502 Bad Gateway: upstream down \(after 3 attempts\)/);
    expect(api.received).toHaveLength(3);
  });

  it('per change kind: POST added, PATCH /{id} changed, DELETE /{id} removed (one request per row when the URL names a column)', async () => {
    api = await startTestApi((r) => (r.method === 'DELETE' && r.url.endsWith('/9') ? { status: 404 } : { status: 200 }));
    const d = open(
      {
        batch_size: 10,
        body: '{"records": {{rows}}}',
        changed: { method: 'PATCH', url: `${api.url}/customers/{id}`, body: '{"fields": {{row}}}' },
        removed: { url: `${api.url}/customers/{id}` },
      },
      'mirror',
    );
    expect(d.capabilities.modes).toEqual(['upsert', 'insert_new', 'update', 'mirror']);
    const r = await d.write(batch([...rows(3, 'added'), ...rows(2, 'changed', 4), ...rows(2, 'removed', 8)]));
    expect(r).toEqual({ delivered: 7, rejected: [] });
    const seen = api.received.map((q) => `${q.method} ${q.url} ${q.body}`).sort();
    expect(seen).toEqual([
      'DELETE /customers/8 ',
      'DELETE /customers/9 ',
      'PATCH /customers/4 {"fields": {"id":4,"name":"name 4"}}',
      'PATCH /customers/5 {"fields": {"id":5,"name":"name 5"}}',
      'POST /customers {"records": [{"id":1,"name":"name 1"},{"id":2,"name":"name 2"},{"id":3,"name":"name 3"}]}',
    ]);
  });

  it('row_results reads the rows a 2xx answer refused (errors[].index, errors[].message)', async () => {
    api = await startTestApi((r) => ({
      status: 200,
      body: { accepted: rowsOf(r).length - 1, errors: [{ index: 2, message: 'duplicate email' }] },
    }));
    const d = open({ batch_size: 5, row_results: { index: 'errors[].index', message: 'errors[].message' } });
    const r = await d.write(batch(rows(10)));
    expect(r.delivered).toBe(8);
    expect(r.rejected).toEqual([
      { rn: 3, reason: 'POST refused the row: duplicate email' },
      { rn: 8, reason: 'POST refused the row: duplicate email' },
    ]);
  });

  it('a 401 fails the run without bisecting, and the token never appears in the message', async () => {
    api = await startTestApi((r) => ({ status: 401, body: { message: `bad token ${r.headers.authorization}` } }));
    const token = 'sk_live_0123456789abcdef';
    const d = open({ headers: { Authorization: `Bearer ${token}` } });
    const e = await d.write(batch(rows(10))).catch((x: Error) => x);
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toMatch(/the API refused the request \(HTTP 401 Unauthorized: bad token \*\*\*\); check destination.headers/);
    expect((e as Error).message).not.toContain(token);
    expect(api.received).toHaveLength(1);
    expect(api.received[0].headers.authorization).toBe(`Bearer ${token}`);
    expect(redact(`Bearer ${token}`)).not.toContain(token);
  });

  it('preview shows the requests it would send without sending them', async () => {
    api = await startTestApi();
    const d = open({ batch_size: 2, headers: { 'X-Api-Key': 'secret-value-123' } });
    const shown = d.previewWrites(batch(rows(5)), 2);
    expect(api.received).toHaveLength(0);
    expect(shown).toHaveLength(2);
    expect(shown[0]).toMatchObject({ op: 'added', request: `POST ${api.url}/customers`, rows: 2, body: '[{"id":1,"name":"name 1"},{"id":2,"name":"name 2"}]' });
    expect(shown[0].details).toEqual({ headers: 'x-api-key, idempotency-key', 'idempotency-key': expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(JSON.stringify(shown)).not.toContain('secret-value-123');
  });

  it('declares its modes: mirror only with a removal request, never replace', async () => {
    api = await startTestApi();
    expect(open().capabilities).toMatchObject({ shape: 'records', modes: ['upsert', 'insert_new'], transactions: false, readBack: false });
    const problems = open({ removed: { url: `${api.url}/customers/{email}` } }, 'mirror').checkColumns(columns, ['id']);
    expect(problems).toEqual(['destination.removed.url: placeholder {email} names no column of the primary key (id)']);
  });
});
