import pg from 'pg';
import type { Column, Value } from '../../src/types/logical-type.js';
import type { ActionNames, DestinationCapabilities, RecordBatch, RecordDestination, RejectedRow, WriteResult } from '../../src/destinations/destination.js';
import type { DestinationOpener } from '../../src/destinations/create-destination.js';
import { parsePgText } from '../../src/types/postgres-text-values.js';

/**
 * A record-shaped destination for tests only: it writes each record to a real Postgres
 * table with one statement (INSERT … ON CONFLICT, or DELETE), so the engine's records path
 * — typed delta batches, per-row results, partial writes, rejected rows — is proven
 * before issue 12's HTTP and Redis destinations exist. A row Postgres refuses (a value too
 * long, a constraint) is reported as rejected, not thrown. The first write of each run
 * answers for half its batch only, with a retryAfterMs, so the resend path runs too.
 */
export class PgRecordTestDestination implements RecordDestination {
  readonly kind = 'pg-records-test';
  readonly capabilities: DestinationCapabilities & { shape: 'records' } = {
    shape: 'records',
    modes: ['upsert', 'mirror'],
    transactions: false,
    readBack: true,
    uniqueKeyModes: [],
    maxBatchRows: 7,
    unstorable: { nulInText: 'text contains a NUL byte, which this test destination (Postgres underneath) cannot store' },
  };
  /** Every batch this destination received, for tests to assert on (sizes, ops). */
  readonly batches: { size: number; ops: string[] }[] = [];
  private halved = false;

  constructor(
    private readonly client: pg.Client,
    private readonly table: string,
    readonly label: string,
  ) {}

  async actionNames(): Promise<ActionNames> {
    return { target_table: pg.escapeIdentifier(this.table) };
  }

  async write(batch: RecordBatch): Promise<WriteResult> {
    this.batches.push({ size: batch.records.length, ops: batch.records.map((r) => r.op) });
    const records = !this.halved && batch.records.length > 1 ? batch.records.slice(0, Math.floor(batch.records.length / 2)) : batch.records;
    const partial = records.length < batch.records.length;
    this.halved = true;
    const q = (n: string) => pg.escapeIdentifier(n);
    const t = q(this.table);
    const rejected: RejectedRow[] = [];
    let delivered = 0;
    for (const r of records) {
      try {
        if (r.op === 'removed') {
          await this.client.query(`DELETE FROM ${t} WHERE ${batch.keys.map((k, i) => `${q(k)} = $${i + 1}`).join(' AND ')}`, r.key.map(param));
        } else {
          const cols = batch.columns.map((c) => q(c.name));
          const sets = batch.columns.filter((c) => !batch.keys.includes(c.name)).map((c) => `${q(c.name)} = EXCLUDED.${q(c.name)}`);
          await this.client.query(
            `INSERT INTO ${t} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})
               ON CONFLICT (${batch.keys.map(q).join(', ')}) DO ${sets.length ? `UPDATE SET ${sets.join(', ')}` : 'NOTHING'}`,
            r.values!.map(param),
          );
        }
        delivered++;
      } catch (e) {
        const err = e as { code?: string; message: string; column?: string };
        if (!/^2[23]/.test(err.code ?? '')) throw e;
        rejected.push({ rn: r.rn, column: err.column, reason: err.message });
      }
    }
    return { delivered, rejected, retryAfterMs: partial ? 1 : undefined };
  }

  async *readBack(columns: Column[], batchSize: number) {
    const r = await this.client.query<Record<string, string | null>>(`SELECT ${columns.map((c) => `${pg.escapeIdentifier(c.name)}::text`).join(', ')} FROM ${pg.escapeIdentifier(this.table)}`);
    for (let i = 0; i < r.rows.length; i += batchSize) {
      yield { rows: r.rows.slice(i, i + batchSize).map((row) => Object.values(row).map((v, j) => parsePgText(v, columns[j].type) as Value)) };
    }
  }

  async cleanup(): Promise<void> {}

  async close(): Promise<void> {
    await this.client.end();
  }
}

function param(v: Value): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

/** The opener the harness puts in place of `postgres` (replaceDestinationForTests). */
export const openPgRecordTestDestination: DestinationOpener = async (config, ctx) => {
  if (config.type !== 'postgres') throw new Error('the record test destination writes to a postgres URL');
  const client = new pg.Client({ connectionString: config.url });
  await client.connect();
  return new PgRecordTestDestination(client, config.table, `records-test (${ctx.label})`);
};
