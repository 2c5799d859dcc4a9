import pg from 'pg';
import { Redis } from 'ioredis';
import { openFixture, type Fixture } from './change-fixture.js';
import { PG_URL, uniqueName } from './databases.js';
import { startPgBackedApi } from './pg-backed-api.js';
import { redisSqlView } from './redis-sql-view.js';

const REDIS_URL = process.env.OUTFLOW_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/**
 * The conformance suite's view of an HTTP destination: a JSON API the test starts, keeping
 * its records in the fixture's Postgres table (test/support/pg-backed-api.ts), so the
 * suite's SQL reads what the API holds. The pipeline POSTs batches (insert_new: to the
 * endpoint that leaves existing records alone), PATCHes a changed record by key and
 * DELETEs a removed one.
 */
export async function openHttpFixture(prefix: string): Promise<Fixture> {
  let api: Awaited<ReturnType<typeof startPgBackedApi>> | undefined;
  const f = await openFixture(prefix, 'postgres', (_table, { mode, keys }) => {
    const byKey = `${api!.base}/${keys.map((k) => `{${k}}`).join('/')}`;
    const added = mode === 'insert_new' ? `\n  added:\n    url: ${api!.base}?on_conflict=ignore` : '';
    return `destination:\n  type: http\n  url: ${api!.base}\n  batch_size: 50${added}\n  changed:\n    method: PATCH\n    url: ${byKey}\n  removed:\n    url: ${byKey}\n`;
  });
  api = await startPgBackedApi(f.table);
  const close = f.close;
  f.close = async () => {
    await api!.close();
    await close();
  };
  return f;
}

/**
 * The conformance suite's view of Redis: the real Redis, one hash per row under a prefix
 * of the fixture's own, read and written by the suite through an SQL view
 * (test/support/redis-sql-view.ts) over a Postgres table of the same shape.
 */
export async function openRedisFixture(prefix: string): Promise<Fixture> {
  const keyPrefix = `${uniqueName(prefix)}:`;
  const f = await openFixture(prefix, 'postgres', (_table, { keys }) =>
    `destination:\n  type: redis\n  url: ${REDIS_URL}\n  key: "${keyPrefix}${keys.map((k) => `{${k}}`).join(':')}"\n`,
  );
  const redis = new Redis(REDIS_URL);
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  f.query = redisSqlView(client, redis, f.table, keyPrefix);
  const close = f.close;
  f.close = async () => {
    for await (const keys of redis.scanStream({ match: `${keyPrefix}*`, count: 1000 }) as AsyncIterable<string[]>) if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await client.end();
    await close();
  };
  return f;
}
