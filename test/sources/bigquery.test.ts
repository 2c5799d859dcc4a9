/**
 * The BigQuery source. One shared body runs against the local protocol-faithful fake (always)
 * and against real BigQuery (OUTFLOW_BIGQUERY_LIVE=1); request-log and fault-injection tests
 * need the fake.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BigquerySource } from '../../src/sources/bigquery/bigquery-source.js';
import { bigquerySourceConfig, type BigquerySourceConfig } from '../../src/sources/bigquery/bigquery-config.js';
import { sourceConfig } from '../../src/sources/source-configs.js';
import { createSource } from '../../src/sources/create-source.js';
import type { Model, ReadOptions } from '../../src/sources/source.js';
import { formatType, type Batch, type Schema, type Value } from '../../src/types/logical-type.js';
import { CancelledError, ConnectionError, ModelError } from '../../src/errors.js';
import { BigqueryFakeServer } from '../support/bigquery-fake-server.js';
import {
  PAGING_FIELDS,
  PAGING_SQL,
  PUBLIC_TABLE,
  PUBLIC_TABLE_FIELDS,
  ROW_COUNT,
  TYPES_EXPECTED,
  TYPES_EXPECTED_JSON,
  TYPES_FIELDS,
  TYPES_SCHEMA,
  TYPES_SQL,
  TYPES_WIRE_ROW,
  pagingWireRows,
} from './bigquery-type-cases.js';

const PROJECT = 'outflow-test';
const DATASET = 'warehouse';
const TOKEN = 'ya29.fake-token-for-outflow-tests';
const PAGE_SIZE = 10_000;

interface Target {
  source: BigquerySource;
  /** Only against the fake: the request log to assert on. */
  fake?: BigqueryFakeServer;
}

async function readAll(source: BigquerySource, model: Model, opts: Partial<ReadOptions> = {}): Promise<{ schema: Schema; batches: Batch[] }> {
  const schema = await source.describe(model);
  const batches: Batch[] = [];
  for await (const batch of source.read(model, schema, { batchSize: PAGE_SIZE, ...opts })) batches.push(batch);
  return { schema, batches };
}

function rowObject(schema: Schema, row: Value[]): Record<string, Value> {
  return Object.fromEntries(schema.columns.map((c, i) => [c.name, row[i]]));
}

function fakeConfig(fake: BigqueryFakeServer, extra: Partial<BigquerySourceConfig> = {}): BigquerySourceConfig {
  return bigquerySourceConfig.parse({ type: 'bigquery', project: PROJECT, dataset: DATASET, api_endpoint: fake.endpoint, ...extra });
}

function openOnFake(fake: BigqueryFakeServer, extra: Partial<BigquerySourceConfig> = {}, token = TOKEN): Promise<BigquerySource> {
  return BigquerySource.open(fakeConfig(fake, extra), process.cwd(), { OUTFLOW_BIGQUERY_ACCESS_TOKEN: token });
}

function cannedFake(fake: BigqueryFakeServer): void {
  fake.addQuery(TYPES_SQL, { fields: TYPES_FIELDS, rows: [TYPES_WIRE_ROW] });
  fake.addQuery(PAGING_SQL, { fields: PAGING_FIELDS, rows: pagingWireRows() });
  fake.addTable(PUBLIC_TABLE, {
    fields: PUBLIC_TABLE_FIELDS,
    rows: [
      ['LVII', '1', 'sonnets', '0'],
      ['augurs', '1', 'sonnets', '0'],
      ['dimm\'d', '1', 'sonnets', '0'],
    ],
  });
}

/** The behaviour every BigQuery endpoint must show; the fake additionally proves the request sequence. */
function sharedBody(target: () => Target | undefined, skipReason?: string): void {
  const get = (ctx: { skip: (condition: boolean, note?: string) => void }): Target => {
    const t = target();
    ctx.skip(!t, skipReason);
    return t!;
  };

  it('describes a query with a dry run, reading no rows', async (ctx) => {
    const { source, fake } = get(ctx);
    fake?.reset();
    const schema = await source.describe({ query: TYPES_SQL });
    expect(schema.columns.map((c) => [c.name, formatType(c.type), c.nullable])).toEqual(TYPES_SCHEMA);
    if (fake) {
      expect(fake.requests().map((r) => r.kind)).toEqual(['jobs.insert']);
      const body = fake.requests()[0].body as { configuration: { dryRun: boolean; query: { query: string; useLegacySql: boolean } } };
      expect(body.configuration).toMatchObject({ dryRun: true, query: { query: TYPES_SQL, useLegacySql: false } });
    }
  });

  it('round-trips every type exactly', async (ctx) => {
    const { source, fake } = get(ctx);
    fake?.reset();
    const { schema, batches } = await readAll(source, { query: TYPES_SQL });
    expect(batches).toHaveLength(1);
    expect(batches[0].rows).toHaveLength(1);
    const row = rowObject(schema, batches[0].rows[0]);
    const { json_val: json, ...rest } = row;
    expect(rest).toEqual(TYPES_EXPECTED);
    expect(typeof json).toBe('string');
    expect(JSON.parse(json as string)).toEqual(TYPES_EXPECTED_JSON);
    expect(row.bytes_val).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(row.bytes_val)).toBe(false);
    expect(row.empty_text).toBe('');
    if (fake) {
      const query = fake.requests('jobs.query')[0].body as Record<string, unknown>;
      expect(query).toMatchObject({ query: TYPES_SQL, useLegacySql: false, maxResults: PAGE_SIZE, formatOptions: { useInt64Timestamp: true } });
      expect(fake.requests('jobs.getQueryResults')[0].query['formatOptions.useInt64Timestamp']).toBe('true');
    }
  });

  it(`streams ${ROW_COUNT} query rows as page-sized batches`, async (ctx) => {
    const { source, fake } = get(ctx);
    fake?.reset();
    const { batches } = await readAll(source, { query: PAGING_SQL });
    expect(batches.map((b) => b.rows.length)).toEqual([10_000, 10_000, 5_000]);
    let expected = 1n;
    for (const batch of batches) {
      for (const [n, label] of batch.rows) {
        expect(n).toBe(expected);
        expect(label).toBe(`row ${expected}`);
        expected++;
      }
    }
    if (fake) {
      // jobs.query → poll (jobComplete:false) → first page → two pageToken pages.
      const log = fake.requests();
      expect(log.map((r) => r.kind)).toEqual([
        'jobs.insert',
        'jobs.query',
        'jobs.getQueryResults',
        'jobs.getQueryResults',
        'jobs.getQueryResults',
        'jobs.getQueryResults',
      ]);
      const results = fake.requests('jobs.getQueryResults');
      const jobId = results[0].path.split('/').pop();
      expect(results.every((r) => r.path === `/bigquery/v2/projects/${PROJECT}/queries/${jobId}` && r.query.location === 'US')).toBe(true);
      expect(results.map((r) => r.query.pageToken === undefined)).toEqual([true, true, false, false]);
      expect(results.map((r) => r.query.maxResults)).toEqual(['10000', '10000', '10000', '10000']);
      expect(new Set(results.slice(2).map((r) => r.query.pageToken)).size).toBe(2);
    }
  });

  it('reads a table model: describe from table metadata, rows page by page', async (ctx) => {
    const { source, fake } = get(ctx);
    fake?.reset();
    const model = { table: PUBLIC_TABLE };
    const schema = await source.describe(model);
    expect(schema.columns.map((c) => [c.name, formatType(c.type), c.nullable])).toEqual([
      ['word', 'text', false],
      ['word_count', 'int64', false],
      ['corpus', 'text', false],
      ['corpus_date', 'int64', false],
    ]);
    // Only the first batch: stopping early must not fetch the rest of the table.
    let first: Batch | undefined;
    for await (const batch of source.read(model, schema, { batchSize: PAGE_SIZE })) {
      first = batch;
      break;
    }
    expect(first!.rows.length).toBeGreaterThan(0);
    expect(first!.rows.length).toBeLessThanOrEqual(PAGE_SIZE);
    for (const [word, count, corpus, date] of first!.rows) {
      expect([typeof word, typeof count, typeof corpus, typeof date]).toEqual(['string', 'bigint', 'string', 'bigint']);
    }
    if (fake) {
      expect(fake.requests().map((r) => [r.kind, r.path])).toEqual([
        ['tables.get', '/bigquery/v2/projects/bigquery-public-data/datasets/samples/tables/shakespeare'],
        ['tables.get', '/bigquery/v2/projects/bigquery-public-data/datasets/samples/tables/shakespeare'],
        ['tabledata.list', '/bigquery/v2/projects/bigquery-public-data/datasets/samples/tables/shakespeare/data'],
      ]);
    }
  });
}

describe('bigquery source on the local fake endpoint', () => {
  let fake: BigqueryFakeServer;
  let source: BigquerySource;

  beforeAll(async () => {
    fake = await BigqueryFakeServer.start({ expectedToken: TOKEN });
    cannedFake(fake);
    source = await openOnFake(fake);
  });
  afterAll(async () => {
    await source?.close();
    await fake?.close();
  });
  beforeEach(() => fake.reset());

  sharedBody(() => ({ source, fake }));

  it('sends the fixed access token on every request, with no token exchange', async () => {
    await source.describe({ query: TYPES_SQL });
    expect(fake.requests().every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  describe('a 25,000-row table', () => {
    beforeAll(() => {
      fake.addTable(`${PROJECT}.${DATASET}.events`, { fields: PAGING_FIELDS, rows: pagingWireRows() });
    });

    it('pages tabledata.list with maxResults/pageToken and yields one batch per page, lazily', async () => {
      const model = { table: 'events' };
      const schema = await source.describe(model);
      fake.reset();
      const iterator = source.read(model, schema, { batchSize: PAGE_SIZE })[Symbol.asyncIterator]();
      const first = await iterator.next();
      expect(first.done).toBe(false);
      expect(first.value!.rows).toHaveLength(10_000);
      // Bounded memory: one page fetched for one batch, the rest not yet.
      expect(fake.requests('tabledata.list')).toHaveLength(1);
      const sizes = [first.value!.rows.length];
      let last: Value[] | undefined;
      for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
        sizes.push(r.value.rows.length);
        last = r.value.rows[r.value.rows.length - 1];
      }
      expect(sizes).toEqual([10_000, 10_000, 5_000]);
      expect(last).toEqual([25_000n, 'row 25000']);

      const pages = fake.requests('tabledata.list');
      expect(pages.map((p) => p.path)).toEqual(Array(3).fill(`/bigquery/v2/projects/${PROJECT}/datasets/${DATASET}/tables/events/data`));
      expect(pages.map((p) => p.query.maxResults)).toEqual(['10000', '10000', '10000']);
      expect(pages.map((p) => p.query['formatOptions.useInt64Timestamp'])).toEqual(['true', 'true', 'true']);
      expect(pages[0].query.pageToken).toBeUndefined();
      expect(pages[1].query.pageToken).toBeTruthy();
      expect(pages[2].query.pageToken).toBeTruthy();
      expect(pages[2].query.pageToken).not.toBe(pages[1].query.pageToken);
    });

    it('splits a page into batches of at most batchSize rows', async () => {
      const { batches } = await readAll(source, { table: 'events' }, { batchSize: 4_000 });
      expect(batches.map((b) => b.rows.length)).toEqual([4_000, 4_000, 2_000, 4_000, 4_000, 2_000, 4_000, 1_000]);
    });

    it('retries a 503 on page 2 and still returns every row', async () => {
      fake.injectFault({ on: 'tabledata.list', page: 2, status: 503, reason: 'backendError' });
      const { batches } = await readAll(source, { table: 'events' });
      const rows = batches.flatMap((b) => b.rows);
      expect(rows).toHaveLength(ROW_COUNT);
      expect(new Set(rows.map((r) => r[0])).size).toBe(ROW_COUNT);
      const pages = fake.requests('tabledata.list');
      expect(pages.map((p) => [p.page, p.status])).toEqual([
        [1, 200],
        [2, 503],
        [2, 200],
        [3, 200],
      ]);
      expect(pages[2].query.pageToken).toBe(pages[1].query.pageToken);
    });

    it('reads only rows past the incremental cursor through a typed query parameter', async () => {
      const cursorSql = `SELECT * FROM (SELECT * FROM \`${PROJECT}\`.\`${DATASET}\`.\`events\`) WHERE \`n\` > @outflow_cursor`;
      fake.addQuery(cursorSql, { fields: PAGING_FIELDS, rows: pagingWireRows(24_991) });
      const model = { table: 'events' };
      const schema = await source.describe(model);
      const batches: Batch[] = [];
      for await (const b of source.read(model, schema, { batchSize: PAGE_SIZE, cursor: { column: 'n', after: '24990' } })) batches.push(b);
      expect(batches.flatMap((b) => b.rows.map((r) => r[0]))).toEqual([24_991n, 24_992n, 24_993n, 24_994n, 24_995n, 24_996n, 24_997n, 24_998n, 24_999n, 25_000n]);
      expect(fake.requests('jobs.query')[0].body).toMatchObject({
        query: cursorSql,
        parameterMode: 'NAMED',
        queryParameters: [{ name: 'outflow_cursor', parameterType: { type: 'INT64' }, parameterValue: { value: '24990' } }],
      });
      expect(fake.requests('tabledata.list')).toHaveLength(0);
    });
  });

  it('retries a 503 on a query result page and 403 rate/quota limits on jobs.query', async () => {
    fake.injectFault({ on: 'jobs.query', status: 403, reason: 'rateLimitExceeded' });
    fake.injectFault({ on: 'jobs.query', status: 403, reason: 'quotaExceeded' });
    fake.injectFault({ on: 'jobs.getQueryResults', page: 2, status: 503, reason: 'backendError' });
    const { batches } = await readAll(source, { query: PAGING_SQL });
    expect(batches.map((b) => b.rows.length)).toEqual([10_000, 10_000, 5_000]);
    const inserts = fake.requests('jobs.query');
    expect(inserts.map((r) => r.status)).toEqual([403, 403, 200]);
    // The same requestId on every attempt, so BigQuery runs the query once.
    const ids = inserts.map((r) => (r.body as { requestId: string }).requestId);
    expect(new Set(ids).size).toBe(1);
    expect(fake.requests('jobs.getQueryResults').map((r) => [r.page, r.status])).toEqual([
      [1, 200],
      [1, 200],
      [2, 503],
      [2, 200],
      [3, 200],
    ]);
  });

  it('fails a 403 accessDenied at once with BigQuery’s message and reason', async () => {
    fake.injectFault({ on: 'jobs.query', status: 403, reason: 'accessDenied' });
    const schema = await source.describe({ query: PAGING_SQL });
    const read = readBatches(source, { query: PAGING_SQL }, schema);
    await expect(read).rejects.toThrow(ConnectionError);
    await expect(read).rejects.toThrow(
      'bigquery source: running the model query: Access Denied: Project outflow-test: User does not have bigquery.jobs.create permission in project outflow-test. (HTTP 403 accessDenied)',
    );
    expect(fake.requests('jobs.query').map((r) => r.status)).toEqual([403]);
  });

  it('names a missing table with BigQuery’s notFound message', async () => {
    await expect(source.describe({ table: 'missing' })).rejects.toThrow(ModelError);
    await expect(source.describe({ table: 'missing' })).rejects.toThrow(
      `bigquery source: reading table ${PROJECT}.${DATASET}.missing: Not found: Table ${PROJECT}:${DATASET}.missing (HTTP 404 notFound)`,
    );
  });

  it('reports a rejected token without repeating it', async () => {
    const wrong = 'ya29.a-token-the-fake-rejects';
    const other = await openOnFake(fake, {}, wrong);
    const error = await other.describe({ query: TYPES_SQL }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as Error).message).toContain('Request is missing required authentication credential');
    expect((error as Error).message).toContain('HTTP 401 required');
    expect((error as Error).message).not.toContain(wrong);
    expect(fake.requests().at(-1)?.authorization).toBe(`Bearer ${wrong}`);
  });

  it('reads a query that finishes within jobs.query without polling for its first page', async () => {
    const sql = 'SELECT 1 AS one';
    fake.addQuery(sql, { fields: [{ name: 'one', type: 'INTEGER', mode: 'NULLABLE' }], rows: [['1']], completeOnInsert: true });
    const { batches } = await readAll(source, { query: `${sql};` });
    expect(batches).toEqual([{ rows: [[1n]] }]);
    expect(fake.requests().map((r) => r.kind)).toEqual(['jobs.insert', 'jobs.query']);
  });

  it('reads an empty result as no batches', async () => {
    const sql = 'SELECT 1 AS one FROM UNNEST([]) AS x';
    fake.addQuery(sql, { fields: [{ name: 'one', type: 'INTEGER', mode: 'NULLABLE' }], rows: [] });
    const { batches } = await readAll(source, { query: sql });
    expect(batches).toEqual([]);
  });

  it('reads a view through a query, since tabledata.list refuses views', async () => {
    fake.addTable(`${PROJECT}.${DATASET}.recent`, { fields: PAGING_FIELDS, rows: [], type: 'VIEW' });
    fake.addQuery(`SELECT * FROM \`${PROJECT}\`.\`${DATASET}\`.\`recent\``, { fields: PAGING_FIELDS, rows: pagingWireRows(1, 3) });
    const { batches } = await readAll(source, { table: 'recent' });
    expect(batches.flatMap((b) => b.rows)).toEqual([
      [1n, 'row 1'],
      [2n, 'row 2'],
      [3n, 'row 3'],
    ]);
    expect(fake.requests('tabledata.list')).toHaveLength(0);
  });

  it('fails a dry run answered 200 with status.errorResult with BigQuery’s own message', async () => {
    const sql = 'SELECT nme FROM states';
    fake.addQuery(sql, {
      fields: [],
      rows: [],
      dryRunError: { reason: 'invalidQuery', location: 'query', message: 'Unrecognized name: nme; Did you mean name? at [1:8]' },
    });
    const error = await source.describe({ query: sql }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ModelError);
    expect((error as Error).message).toBe(
      'bigquery source: describing the model query (dry run): Unrecognized name: nme; Did you mean name? at [1:8] (invalidQuery at query)',
    );
  });

  it('announces totalRows before the first batch, for the progress bar', async () => {
    fake.addTable(`${PROJECT}.${DATASET}.counted`, { fields: PAGING_FIELDS, rows: pagingWireRows(1, 1_234) });
    for (const model of [{ table: 'counted' }, { query: PAGING_SQL }]) {
      const events: string[] = [];
      const schema = await source.describe(model);
      for await (const batch of source.read(model, schema, { batchSize: 500, onTotal: (n) => events.push(`total ${n}`) })) {
        events.push(`batch ${batch.rows.length}`);
      }
      const expectedTotal = 'table' in model ? 1_234 : ROW_COUNT;
      expect(events[0]).toBe(`total ${expectedTotal}`);
      expect(events.filter((e) => e.startsWith('total'))).toHaveLength(1);
    }
  });

  it('stops with CancelledError when the run is aborted', async () => {
    const schema = await source.describe({ query: PAGING_SQL });
    const controller = new AbortController();
    controller.abort();
    await expect(readBatches(source, { query: PAGING_SQL }, schema, controller.signal)).rejects.toThrow(CancelledError);
  });

  it('refuses columns that changed since describe', async () => {
    const stale: Schema = { columns: [{ name: 'other', type: { kind: 'int64' }, nullable: true }] };
    await expect(readBatches(source, { query: PAGING_SQL }, stale)).rejects.toThrow(/columns changed since it was described/);
  });
});

describe('bigquery source config', () => {
  it('fills defaults and is part of the source union', () => {
    const parsed = sourceConfig.parse({ type: 'bigquery', project: 'p' });
    expect(parsed).toEqual({ type: 'bigquery', project: 'p', page_size: 10_000, read_api: 'rest' });
  });

  it('refuses the Storage Read API with a clear message', () => {
    const result = sourceConfig.safeParse({ type: 'bigquery', project: 'p', read_api: 'storage' });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0].path).toEqual(['read_api']);
    expect(result.error!.issues[0].message).toMatch(/Storage Read API\) is not supported yet; use read_api: rest/);
  });

  it('refuses credentials inside the YAML', () => {
    expect(sourceConfig.safeParse({ type: 'bigquery', project: 'p', credentials: { private_key: 'x' } }).success).toBe(false);
  });

  it('is opened by createSource', async () => {
    const source = await createSource({ type: 'bigquery', project: 'p', page_size: 10, read_api: 'rest' }, process.cwd());
    expect(source.kind).toBe('bigquery');
    await source.close();
  });
});

const LIVE = process.env.OUTFLOW_BIGQUERY_LIVE === '1';
const LIVE_SKIP =
  'live BigQuery suite is opt-in: set OUTFLOW_BIGQUERY_LIVE=1, OUTFLOW_BIGQUERY_PROJECT and GOOGLE_APPLICATION_CREDENTIALS (or OUTFLOW_BIGQUERY_ACCESS_TOKEN)';

describe('bigquery source against real BigQuery', () => {
  let source: BigquerySource | undefined;

  beforeAll(async () => {
    if (!LIVE) return;
    const project = process.env.OUTFLOW_BIGQUERY_PROJECT;
    if (!project) throw new Error('OUTFLOW_BIGQUERY_LIVE=1 needs OUTFLOW_BIGQUERY_PROJECT');
    const config = bigquerySourceConfig.parse({
      type: 'bigquery',
      project,
      location: process.env.OUTFLOW_BIGQUERY_LOCATION,
      key_file: process.env.GOOGLE_APPLICATION_CREDENTIALS,
    });
    source = await BigquerySource.open(config, process.cwd());
  });
  afterAll(async () => source?.close());

  sharedBody(() => (source ? { source } : undefined), LIVE_SKIP);
});

async function readBatches(source: BigquerySource, model: Model, schema: Schema, signal?: AbortSignal): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of source.read(model, schema, { batchSize: PAGE_SIZE, signal })) out.push(b);
  return out;
}
