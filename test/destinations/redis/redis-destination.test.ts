import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisDestination } from '../../../src/destinations/redis/redis-destination.js';
import { redisDestinationConfig } from '../../../src/destinations/redis/redis-config.js';
import type { DeltaRecord, RecordBatch } from '../../../src/destinations/destination.js';

type ChangeKind = DeltaRecord['op'];
import type { Column, Value } from '../../../src/types/logical-type.js';
import type { SyncMode } from '../../../src/config/pipeline-schema.js';
import { MassDeleteError } from '../../../src/errors.js';
import { tempDir, uniqueName } from '../../support/databases.js';
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

const REDIS_URL = process.env.OUTFLOW_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

const columns: Column[] = [
  { name: 'id', type: { kind: 'int64' }, nullable: false },
  { name: 'name', type: { kind: 'text' }, nullable: true },
  { name: 'score', type: { kind: 'decimal', precision: 5, scale: 3 }, nullable: true },
];
let mode: SyncMode = 'upsert';
const delivery = { pipeline: 'p', runId: 1, snapshotVersion: 1, fingerprint: 'f' };

function row(rn: number, kind: ChangeKind, values: Value[]): DeltaRecord {
  return kind === 'removed' ? { rn, op: kind, key: [values[0]] } : { rn, op: kind, key: [values[0]], hash: String(rn), values };
}
function batch(rows: DeltaRecord[], cols = columns): RecordBatch {
  return { mode, columns: cols, keys: [cols[0].name], records: rows, delivery };
}

let redis: Redis;
let prefix: string;
const opened: RedisDestination[] = [];

async function open(extra: Record<string, unknown> = {}, asMode: SyncMode = 'upsert') {
  mode = asMode;
  const config = redisDestinationConfig.parse({ type: 'redis', url: REDIS_URL, key: `${prefix}:{id}`, ...extra });
  const d = await RedisDestination.open(config, { pipelineName: 'p', baseDir: '.' });
  opened.push(d);
  return d;
}

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  redis.disconnect();
});
afterEach(async () => {
  for (const d of opened.splice(0)) await d.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
});

describe('Redis destination', () => {
  it('writes one hash per row, fields named after the mapped columns; a field that became NULL disappears', async () => {
    prefix = uniqueName('customer');
    const d = await open();
    expect(await d.write(batch([row(1, 'added', [1n, 'Ada', '0.875']), row(2, 'added', [2n, 'Grace', null])]))).toEqual({ delivered: 2, rejected: [] });
    expect(await redis.hgetall(`${prefix}:1`)).toEqual({ id: '1', name: 'Ada', score: '0.875' });
    expect(await redis.hgetall(`${prefix}:2`)).toEqual({ id: '2', name: 'Grace' });
    await d.write(batch([row(1, 'changed', [1n, 'Ada', null])]));
    expect(await redis.hgetall(`${prefix}:1`)).toEqual({ id: '1', name: 'Ada' });
    expect(await redis.pttl(`${prefix}:1`)).toBe(-1);
  });

  it('format: json writes one typed JSON string per key, with the TTL', async () => {
    prefix = uniqueName('customer');
    const d = await open({ format: 'json', ttl: '7d' });
    await d.write(batch([row(1, 'added', [1n, 'Ada', '0.875'])]));
    expect(JSON.parse((await redis.get(`${prefix}:1`))!)).toEqual({ id: 1, name: 'Ada', score: '0.875' });
    const ttl = await redis.pttl(`${prefix}:1`);
    expect(ttl).toBeGreaterThan(6 * 86_400_000);
    expect(ttl).toBeLessThanOrEqual(7 * 86_400_000);
  });

  it('ttl applies to hashes too, renewed on every write', async () => {
    prefix = uniqueName('customer');
    const d = await open({ ttl: '90s' });
    await d.write(batch([row(1, 'added', [1n, 'Ada', null])]));
    await redis.pexpire(`${prefix}:1`, 5000);
    await d.write(batch([row(1, 'changed', [1n, 'Ada L.', null])]));
    expect(await redis.pttl(`${prefix}:1`)).toBeGreaterThan(80_000);
  });

  it('mirror deletes exactly the keys of removed rows', async () => {
    prefix = uniqueName('customer');
    const d = await open({}, 'mirror');
    await d.write(batch(Array.from({ length: 10 }, (_, i) => row(i + 1, 'added', [BigInt(i + 1), `c${i + 1}`, null]))));
    await redis.set(`${prefix}:other`, 'not ours');
    const r = await d.write(batch([row(1, 'removed', [3n]), row(2, 'removed', [7n]), row(3, 'changed', [4n, 'c4 new', null])]));
    expect(r).toEqual({ delivered: 3, rejected: [] });
    const left = (await redis.keys(`${prefix}:*`)).sort();
    expect(left).toEqual([1, 10, 2, 4, 5, 6, 8, 9].map((i) => `${prefix}:${i}`).concat(`${prefix}:other`).sort());
    expect(await redis.hget(`${prefix}:4`, 'name')).toBe('c4 new');
  });

  it('replace deletes the keys of the template the run did not write, and only those', async () => {
    prefix = uniqueName('customer');
    const seed = await open();
    await seed.write(batch(Array.from({ length: 10 }, (_, i) => row(i + 1, 'added', [BigInt(i + 1), `c${i + 1}`, null]))));
    await redis.hset(`${prefix}:7:orders`, 'n', '3'); // another shape under the same prefix
    await redis.set(`${prefix}:99`, 'a string, not a hash');
    const d = await open({}, 'replace');
    await d.write(batch(Array.from({ length: 8 }, (_, i) => row(i + 1, 'added', [BigInt(i + 1), `c${i + 1}`, null]))));
    expect(await d.deleteUnwritten({ maxDeleteRatio: 0.5 })).toBe(2);
    const left = (await redis.keys(`${prefix}:*`)).sort();
    expect(left).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((i) => `${prefix}:${i}`).concat(`${prefix}:7:orders`, `${prefix}:99`).sort());
    expect(await redis.keys('outflow:replace:p:*')).toEqual([]);
  });

  it('replace refuses to delete more than max_delete_ratio of the keys, and deletes nothing', async () => {
    prefix = uniqueName('customer');
    const seed = await open();
    await seed.write(batch(Array.from({ length: 10 }, (_, i) => row(i + 1, 'added', [BigInt(i + 1), `c${i + 1}`, null]))));
    const d = await open({}, 'replace');
    await d.write(batch([row(1, 'added', [1n, 'c1', null])]));
    await expect(d.deleteUnwritten({ maxDeleteRatio: 0.5 })).rejects.toThrow(MassDeleteError);
    expect(await redis.keys(`${prefix}:*`)).toHaveLength(10);
  });

  it('reads every row back in the model types (verify)', async () => {
    prefix = uniqueName('customer');
    const typed: Column[] = [
      { name: 'id', type: { kind: 'int64' }, nullable: false },
      { name: 'raw', type: { kind: 'bytes' }, nullable: true },
      { name: 'tags', type: { kind: 'array', element: { kind: 'int32' } }, nullable: true },
      { name: 'at', type: { kind: 'timestamptz' }, nullable: true },
    ];
    for (const format of ['hash', 'json'] as const) {
      const d = await open({ format, key: `${prefix}:${format}:{id}` });
      await d.write(batch([row(1, 'added', [1n, new Uint8Array([0, 255]), [1, 2], '2026-01-02 03:04:05.5+00'])], typed));
      const back = [];
      for await (const b of d.readBack(typed, 100)) back.push(...b.rows);
      expect(back).toEqual([['1', new Uint8Array([0, 255]), ['1', '2'], '2026-01-02T03:04:05.5Z']]);
    }
  });

  it('the key template may name primary key columns only', async () => {
    prefix = uniqueName('customer');
    const d = await open({ key: `${prefix}:{name}` });
    expect(d.checkColumns(columns, ['id'])).toEqual([`destination.key: placeholder {name} is not a primary key column (id); a key must be built from the key alone`]);
  });

  it('username and password come from the config; a wrong password fails without showing it', async () => {
    prefix = uniqueName('customer');
    const user = uniqueName('outflow_user');
    const password = 'pw-' + uniqueName('secret');
    await redis.call('ACL', 'SETUSER', user, 'on', `>${password}`, `~${prefix}*`, '~outflow:*', '+@all');
    try {
      const d = await open({ username: user, password });
      await d.write(batch([row(1, 'added', [1n, 'Ada', null])]));
      expect(await redis.hget(`${prefix}:1`, 'name')).toBe('Ada');
      const wrong = `${password}-wrong`;
      const e = await open({ username: user, password: wrong }).catch((x: Error) => x);
      expect((e as Error).message).toMatch(/^redis 127\.0\.0\.1:6379\/0: cannot connect: WRONGPASS/);
      expect((e as Error).message).not.toContain(wrong);
    } finally {
      await redis.call('ACL', 'DELUSER', user);
    }
  });
});

describe('Redis destination over TLS (rediss://)', () => {
  let server: ChildProcess | undefined;
  let dir: string;
  let port: number;

  beforeAll(async () => {
    // A private redis-server with only a TLS port, its certificate signed by a CA made here.
    dir = tempDir('outflow-redis-tls-');
    const ssl = (args: string) => execSync(`openssl ${args}`, { cwd: dir, stdio: 'pipe' });
    ssl('req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=outflow-test-ca -keyout ca.key -out ca.pem');
    ssl('req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr');
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    ssl('x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile san.ext -out server.pem');
    port = 20000 + (process.pid % 20000);
    server = spawn(
      'redis-server',
      ['--port', '0', '--tls-port', String(port), '--tls-cert-file', 'server.pem', '--tls-key-file', 'server.key', '--tls-ca-cert-file', 'ca.pem', '--tls-auth-clients', 'no', '--save', '', '--appendonly', 'no', '--dir', dir],
      { cwd: dir, stdio: 'ignore' },
    );
    for (let i = 0; i < 100 && !(await isListening(port)); i++) await new Promise((r) => setTimeout(r, 50));
  });
  afterAll(() => {
    server?.kill();
  });

  it('connects with rediss:// and ca_file, and refuses a server whose certificate it cannot verify', async () => {
    prefix = uniqueName('customer');
    const url = `rediss://127.0.0.1:${port}/0`;
    const config = redisDestinationConfig.parse({ type: 'redis', url, key: `${prefix}:{id}`, ca_file: 'ca.pem' });
    const d = await RedisDestination.open(config, { pipelineName: 'p', baseDir: dir });
    opened.push(d);
    mode = 'upsert';
    await d.write(batch([row(1, 'added', [1n, 'Ada', null])]));
    const back = [];
    for await (const b of d.readBack(columns, 10)) back.push(...b.rows);
    expect(back).toEqual([['1', 'Ada', null]]);
    expect(d.label).toBe(`redis (TLS) 127.0.0.1:${port}/0 ${prefix}:{id}`);
    const untrusted = redisDestinationConfig.parse({ type: 'redis', url, key: `${prefix}:{id}`, connect_timeout: '3s' });
    await expect(RedisDestination.open(untrusted, { pipelineName: 'p', baseDir: dir })).rejects.toThrow(/cannot connect: .*(self[- ]signed|unable to verify|certificate)/i);
  });
});

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
