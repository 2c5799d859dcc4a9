import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { MassDeleteError } from '../../errors.js';
import { redact } from '../../config/redact.js';
import type { Batch, Column, Value } from '../../types/logical-type.js';
import type { ActionNames, DestinationCapabilities, RecordBatch, RecordDestination, RejectedRow, WritePreview, WriteResult } from '../destination.js';
import type { DestinationContext } from '../create-destination.js';
import { jsonRow, textValue, UnwritableValueError, valueFromJson, valueFromText } from '../record-values.js';
import { redisDestinationLabel, type RedisDestinationConfig } from './redis-config.js';
import { connectRedis, redisFault } from './redis-connection.js';
import { RedisKeys } from './redis-keys.js';

export type RedisDestinationContext = Pick<DestinationContext, 'pipelineName' | 'baseDir'>;

export async function openRedisDestination(config: RedisDestinationConfig, ctx: DestinationContext): Promise<RedisDestination> {
  return RedisDestination.open(config, ctx);
}

/** Keys asked for per SCAN step. */
const SCAN_COUNT = 1000;
/** The set of keys a replace run wrote outlives a crashed run by at most this long. */
const REPLACE_SET_TTL_S = 24 * 3600;

/**
 * Redis as a record destination: each row is one key built from the `key` template,
 * holding a hash (one field per mapped column, values as text, NULL fields absent) or a
 * JSON string, with an optional TTL. A batch is one MULTI/EXEC, so it applies whole or
 * not at all; a hash is deleted and set again inside it, so a field that became NULL
 * disappears. `mirror` deletes the keys of removed rows; `replace` deletes, after the
 * run's writes, the keys of the template's shape that the run did not write.
 */
export class RedisDestination implements RecordDestination {
  readonly kind = 'redis';
  readonly label: string;
  readonly capabilities: DestinationCapabilities & { shape: 'records' } = {
    shape: 'records',
    // insert_new and update would need to know whether a key exists before writing it; not offered.
    modes: ['upsert', 'mirror', 'replace'],
    // MULTI/EXEC makes each batch atomic, not the run.
    transactions: false,
    readBack: true,
    uniqueKeyModes: [],
    maxBatchRows: 0,
  };
  private readonly keys: RedisKeys;
  /** replace: a set (in Redis, not in memory) of the keys this run wrote; made on the first replace batch. */
  private writtenSet?: string;
  /** The columns of the batches written, for the key shape `replace` sweeps. */
  private columns?: readonly Column[];

  private constructor(
    private readonly client: Redis,
    private readonly config: RedisDestinationConfig,
    private readonly ctx: RedisDestinationContext,
  ) {
    this.label = redisDestinationLabel(config);
    this.capabilities.maxBatchRows = config.batch_size;
    this.keys = new RedisKeys(config.key);
  }

  static async open(config: RedisDestinationConfig, ctx: RedisDestinationContext): Promise<RedisDestination> {
    return new RedisDestination(await connectRedis(config, ctx.baseDir), config, ctx);
  }

  /** Problems found before anything is written (validate): the key template must use key columns only. */
  checkColumns(_columns: Column[], keys: string[]): string[] {
    return RedisKeys.problems(this.config.key, keys);
  }

  async write(batch: RecordBatch): Promise<WriteResult> {
    const m = this.client.multi();
    const rejected: RejectedRow[] = [];
    const ttl = this.config.ttl;
    let queued = 0;
    const keyColumns = batch.keys.map((k) => batch.columns.find((c) => c.name === k)!);
    this.columns = batch.columns;
    if (batch.mode === 'replace') this.writtenSet ??= `outflow:replace:${this.ctx.pipelineName}:${randomBytes(8).toString('hex')}`;
    for (const row of batch.records) {
      let key: string;
      let value: string | string[];
      try {
        key = this.keys.keyOf(row.key, keyColumns);
        value = row.op === 'removed' ? [] : this.encode(batch.columns, row.values ?? []);
      } catch (e) {
        if (!(e instanceof UnwritableValueError)) throw e;
        rejected.push({ rn: row.rn, column: e.column, reason: e.message });
        continue;
      }
      queued++;
      if (row.op === 'removed') {
        m.unlink(key);
        continue;
      }
      if (typeof value === 'string') {
        if (ttl) m.set(key, value, 'PX', ttl);
        else m.set(key, value);
      } else {
        m.del(key);
        m.hset(key, ...value);
        if (ttl) m.pexpire(key, ttl);
      }
      if (this.writtenSet) m.sadd(this.writtenSet, key);
    }
    if (this.writtenSet && queued > 0) m.expire(this.writtenSet, REPLACE_SET_TTL_S);
    if (queued === 0) {
      m.discard();
      return { delivered: 0, rejected };
    }
    let results: [Error | null, unknown][] | null;
    try {
      results = await m.exec();
    } catch (e) {
      throw redisFault(this.label, 'a batch was not applied', e);
    }
    const failed = results?.find(([err]) => err);
    if (failed) throw redisFault(this.label, 'a command of the batch failed', failed[0]);
    return { delivered: queued, rejected };
  }

  /** The commands the first `limit` rows of a batch would send, without sending them. */
  previewWrites(batch: RecordBatch, limit = 3): WritePreview[] {
    const keyColumns = batch.keys.map((k) => batch.columns.find((c) => c.name === k)!);
    const ttl = this.config.ttl ? ` PX ${this.config.ttl}` : '';
    return batch.records.slice(0, limit).map((row) => {
      let request: string;
      try {
        const key = this.keys.keyOf(row.key, keyColumns);
        const value = row.op === 'removed' ? undefined : this.encode(batch.columns, row.values ?? []);
        if (value === undefined) request = `UNLINK ${key}`;
        else if (typeof value === 'string') request = `SET ${key} ${value}${ttl}`;
        else request = `DEL ${key}; HSET ${key} ${value.join(' ')}${this.config.ttl ? `; PEXPIRE ${key} ${this.config.ttl}` : ''}`;
      } catch (e) {
        request = `refused: ${(e as Error).message}`;
      }
      return { op: row.op, rows: 1, request: redact(request) };
    });
  }

  /** A row's value: HSET field/value pairs (NULL fields left out), or the JSON text. */
  private encode(columns: readonly Column[], values: readonly Value[]): string | string[] {
    if (this.config.format === 'json') return jsonRow(columns, values, { bigNumbers: this.config.big_numbers });
    const pairs: string[] = [];
    for (let i = 0; i < columns.length; i++) {
      const v = values[i];
      if (v === null || v === undefined) continue;
      pairs.push(columns[i].name, textValue(columns[i], v));
    }
    return pairs;
  }

  /**
   * replace, once every batch is written: deletes the keys of the template's shape (and
   * this format's Redis type) that the run did not write. A first SCAN counts them, and
   * refuses when they are more than `maxDeleteRatio` of the keys found; a second deletes.
   */
  async deleteUnwritten(opts: { maxDeleteRatio?: number }): Promise<number> {
    if (!this.writtenSet || !this.columns) return 0;
    const columns = this.columns;
    try {
      let found = 0;
      let absent = 0;
      for await (const keys of this.scanKeys(columns)) {
        found += keys.length;
        absent += (await this.unwritten(keys)).length;
      }
      // Not guardMassDelete's "nothing was written": here the rows are written by now, only the deletion is refused.
      if (opts.maxDeleteRatio !== undefined && absent > 0 && absent / found > opts.maxDeleteRatio) {
        throw new MassDeleteError(
          `${this.label}: replace would delete ${absent} of ${found} keys (${Math.round((absent / found) * 1000) / 10}%), more than max_delete_ratio ${opts.maxDeleteRatio}; the model's rows were written, no key was deleted. If the model really shrank, run again with --allow-mass-delete.`,
        );
      }
      let deleted = 0;
      for await (const keys of this.scanKeys(columns)) {
        const gone = await this.unwritten(keys);
        if (gone.length) deleted += await this.client.unlink(...gone);
      }
      return deleted;
    } catch (e) {
      if (e instanceof MassDeleteError) throw e;
      throw redisFault(this.label, 'replace could not delete the keys left out', e);
    } finally {
      await this.client.del(this.writtenSet).catch(() => undefined);
    }
  }

  private async unwritten(keys: string[]): Promise<string[]> {
    if (keys.length === 0) return [];
    const member = await this.client.smismember(this.writtenSet!, ...keys);
    return keys.filter((_, i) => member[i] === 0);
  }

  /** Keys of the template's shape and this format's type, SCANned in steps (each key at least once). */
  private async *scanKeys(columns: readonly Column[]): AsyncIterable<string[]> {
    const matches = this.keys.matcher(columns);
    const stream = this.client.scanStream({ match: this.keys.scanPattern(), type: this.config.format === 'json' ? 'string' : 'hash', count: SCAN_COUNT });
    for await (const keys of stream as AsyncIterable<string[]>) {
      const mine = keys.filter(matches);
      if (mine.length) yield mine;
    }
  }

  /** Every row held under the template, read back in the model's types (for `verify`). */
  async *readBack(columns: readonly Column[], batchSize: number): AsyncIterable<Batch> {
    let rows: Value[][] = [];
    for await (const keys of this.scanKeys(columns)) {
      const p = this.client.pipeline();
      for (const k of keys) {
        if (this.config.format === 'json') p.get(k);
        else p.hgetall(k);
      }
      for (const [err, value] of (await p.exec()) ?? []) {
        if (err) throw redisFault(this.label, 'cannot read a key back', err);
        rows.push(this.decode(columns, value));
      }
      if (rows.length >= batchSize) {
        yield { rows };
        rows = [];
      }
    }
    if (rows.length) yield { rows };
  }

  private decode(columns: readonly Column[], value: unknown): Value[] {
    if (this.config.format === 'json') {
      const o = (value ? JSON.parse(String(value)) : {}) as Record<string, unknown>;
      return columns.map((c) => valueFromJson(c.type, o[c.name]));
    }
    const h = (value ?? {}) as Record<string, string>;
    return columns.map((c) => (h[c.name] === undefined ? null : valueFromText(c.type, h[c.name])));
  }

  async actionNames(): Promise<ActionNames> {
    return {};
  }

  async cleanup(): Promise<void> {}

  async close(): Promise<void> {
    if (this.writtenSet) await this.client.del(this.writtenSet).catch(() => undefined);
    this.client.disconnect();
  }
}
