/**
 * BigQuery through the whole engine (runPipeline → DuckDB workspace → Postgres), against the
 * local protocol-faithful fake: a 25,000-row result read page by page while it is loaded, a
 * 503 on one page retried by the client, a 403 failing the run with BigQuery's own message.
 */
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { runPipeline, type ProgressEvent } from '../../src/engine/run-pipeline.js';
import { PG_URL, tempDir, uniqueName, writeFile } from '../support/databases.js';
import { startBigqueryFake } from '../support/source-fixtures.js';
import type { BigqueryFakeServer } from '../support/bigquery-fake-server.js';
import { PAGING_FIELDS, PAGING_SQL, ROW_COUNT, pagingWireRows } from './bigquery-type-cases.js';

describe('bigquery source through the engine (local fake endpoint)', () => {
  let bq: Awaited<ReturnType<typeof startBigqueryFake>>;
  let fake: BigqueryFakeServer;
  let dest: pg.Client;
  let dir: string;
  const tables: string[] = [];

  beforeAll(async () => {
    bq = await startBigqueryFake();
    fake = bq.fake;
    fake.addQuery(PAGING_SQL, { fields: PAGING_FIELDS, rows: pagingWireRows() });
    dest = new pg.Client({ connectionString: PG_URL });
    await dest.connect();
    dir = tempDir();
  });
  afterAll(async () => {
    for (const t of tables) await dest?.query(`DROP TABLE IF EXISTS ${t}`);
    await dest?.end();
    await bq?.close();
  });
  beforeEach(() => fake.reset());

  function pipeline(name: string) {
    const table = uniqueName(name);
    tables.push(table);
    const file = writeFile(
      join(dir, `${name}.yaml`),
      `name: ${name}
${bq.sourceYaml}  page_size: 10000
model:
  query: "${PAGING_SQL.replace(/"/g, '\\"')}"
destination:
  type: postgres
  url: \${OUTFLOW_TEST_PG_URL}
  table: ${table}
primary_key: n
mode: upsert
batch_size: 10000
state:
  dir: ${join(dir, `state-${name}`)}
`,
    );
    return { p: loadPipeline(file), table };
  }

  it('streams 25,000 rows at 10,000 per page: each page is loaded before the next is fetched', async () => {
    const { p, table } = pipeline('bq_paging');
    // At each batch the workspace loads, how many result pages has BigQuery served so far?
    const pagesWhenLoaded: number[] = [];
    const pages = () => fake.requests('jobs.getQueryResults').filter((r) => r.status === 200 && r.page !== undefined).length - 1; // minus the jobComplete:false poll
    const heap: number[] = [];
    const totals = new Set<number | undefined>();
    const r = await runPipeline(p, {
      onProgress: (e: ProgressEvent) => {
        if (e.stage === 'extract' && e.rows !== undefined) {
          totals.add(e.total);
          pagesWhenLoaded.push(pages());
          heap.push(process.memoryUsage().heapUsed);
        }
      },
    });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe('success');
    expect(r.counts).toMatchObject({ read: ROW_COUNT, added: ROW_COUNT, inserted: ROW_COUNT });
    // Bounded: batch k is in the workspace when only page k has been fetched (never the whole result first).
    expect(pagesWhenLoaded).toEqual([1, 2, 3]);
    // The extract progress carries BigQuery's totalRows from the first page, so the bar has an end.
    expect([...totals]).toEqual([ROW_COUNT]);

    const log = fake.requests();
    expect(log.map((q) => q.kind)).toEqual([
      'jobs.insert', // describe: dry run
      'jobs.query',
      'jobs.getQueryResults', // jobComplete: false
      'jobs.getQueryResults', // page 1
      'jobs.getQueryResults', // page 2 (pageToken)
      'jobs.getQueryResults', // page 3 (pageToken)
    ]);
    const results = fake.requests('jobs.getQueryResults');
    expect(results.map((q) => q.query.maxResults)).toEqual(['10000', '10000', '10000', '10000']);
    expect(results.map((q) => q.page)).toEqual([1, 1, 2, 3]);
    expect(new Set(results.slice(2).map((q) => q.query.pageToken)).size).toBe(2);
    expect((fake.requests('jobs.query')[0].body as { maxResults: number }).maxResults).toBe(10_000);

    const { rows } = await dest.query(`SELECT count(*)::int AS n, min(n)::text AS lo, max(n)::text AS hi, max(label) FILTER (WHERE n = 25000) AS last FROM ${table}`);
    expect(rows).toEqual([{ n: ROW_COUNT, lo: '1', hi: '25000', last: 'row 25000' }]);
    // Heap during extract, for the report (not asserted: the GC decides it).
    console.log(`bigquery 25k via engine: heapUsed MB per batch ${heap.map((h) => Math.round(h / 1e6)).join(', ')}`);
  });

  it('retries a 503 on page 2 (the client repeats the same pageToken) and the run succeeds', async () => {
    const { p, table } = pipeline('bq_503');
    fake.injectFault({ on: 'jobs.getQueryResults', page: 2, status: 503, reason: 'backendError' });
    const r = await runPipeline(p);
    expect(r.error).toBeUndefined();
    expect(r.status).toBe('success');
    expect(r.counts).toMatchObject({ read: ROW_COUNT, inserted: ROW_COUNT });
    const results = fake.requests('jobs.getQueryResults');
    expect(results.map((q) => [q.page, q.status])).toEqual([
      [1, 200],
      [1, 200],
      [2, 503],
      [2, 200],
      [3, 200],
    ]);
    expect(results[2].query.pageToken).toBe(results[3].query.pageToken);
    // The client retried the page; the engine did not have to restart the run.
    expect(fake.requests('jobs.query')).toHaveLength(1);
    expect(r.stages.some((s) => s.stage.startsWith('retry'))).toBe(false);
    expect((await dest.query(`SELECT count(*)::int AS n FROM ${table}`)).rows).toEqual([{ n: ROW_COUNT }]);
  });

  it('fails the run on a 403 accessDenied with BigQuery’s message, and writes no rows', async () => {
    const { p, table } = pipeline('bq_403');
    fake.injectFault({ on: 'jobs.query', status: 403, reason: 'accessDenied' });
    const r = await runPipeline(p);
    expect(r.status).toBe('failed');
    expect(r.error).toContain(
      'Access Denied: Project outflow-test: User does not have bigquery.jobs.create permission in project outflow-test. (HTTP 403 accessDenied)',
    );
    expect(r.error).not.toContain(bq.token);
    // Not retried: permission problems do not go away by asking again.
    expect(fake.requests('jobs.query').map((q) => q.status)).toEqual([403]);
    expect((await dest.query(`SELECT count(*)::int AS n FROM ${table}`)).rows).toEqual([{ n: 0 }]);
  });
});
