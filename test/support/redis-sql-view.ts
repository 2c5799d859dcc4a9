import type { Redis } from 'ioredis';
import type pg from 'pg';
import { pgPrimaryKey } from './databases.js';

/**
 * SQL over Redis hashes, for the conformance suite, which looks at every destination with
 * SQL: a Postgres table of the same name stands for the hashes under `prefix`. Before each
 * statement the table is filled from Redis (SCAN + HGETALL, values cast by Postgres); after
 * a statement that changes rows, Redis is rewritten from the table (one hash per row, key
 * `prefix` + key values joined by ':', NULL fields absent). CREATE TABLE only defines the
 * columns. What the suite reads is therefore always what Redis holds.
 */
export function redisSqlView(client: pg.Client, redis: Redis, table: string, prefix: string) {
  const t = client.escapeIdentifier(table);
  const columns = async () =>
    (await client.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`, [table])).rows.map(
      (r) => r.column_name,
    );
  const keys = () => pgPrimaryKey(client, table);
  const ours = async () => {
    const found: string[] = [];
    for await (const batch of redis.scanStream({ match: `${prefix}*`, type: 'hash', count: 1000 }) as AsyncIterable<string[]>) found.push(...batch);
    return found;
  };
  async function load(): Promise<void> {
    await client.query(`DELETE FROM ${t}`);
    const keysFound = await ours();
    if (keysFound.length === 0) return;
    const p = redis.pipeline();
    for (const k of keysFound) p.hgetall(k);
    const records = ((await p.exec()) ?? []).map(([, v]) => v);
    await client.query(`INSERT INTO ${t} SELECT * FROM json_populate_recordset(NULL::${t}, $1::json)`, [JSON.stringify(records)]);
  }
  async function store(): Promise<void> {
    const existing = await ours();
    if (existing.length) await redis.del(...existing);
    const names = await columns();
    const key = await keys();
    const rows = (await client.query(`SELECT * FROM ${t}`)).rows as Record<string, unknown>[];
    for (const row of rows) {
      const fields = names.flatMap((c) => (row[c] === null ? [] : [c, String(row[c])]));
      await redis.hset(`${prefix}${key.map((k) => String(row[k])).join(':')}`, ...fields);
    }
  }
  return async function query<T>(sql: string, params?: unknown[]): Promise<T[]> {
    if (/^\s*CREATE\s+TABLE/i.test(sql)) {
      await client.query(sql, params);
      return [];
    }
    await load();
    const result = await client.query(sql, params);
    if (/^\s*(INSERT|UPDATE|DELETE)\b/i.test(sql)) await store();
    return result.rows as T[];
  };
}
