import { createHash } from 'node:crypto';
import type { DeltaRecord } from '../destination.js';

/**
 * The `Idempotency-Key` of a request: a hash of the pipeline, the change kind and each
 * row's key and row hash (a removed row has its key alone), in order. A request retried after a timeout, or re-sent by the
 * next run after a crash (the same rows, batched the same way), carries the same key, so
 * an API that honours the header applies it once; any other set of rows, or the same rows
 * with other values, gets another key.
 */
export function idempotencyKey(pipeline: string, kind: DeltaRecord['op'], rows: readonly DeltaRecord[]): string {
  const h = createHash('sha256');
  h.update(`outflow\0${pipeline}\0${kind}\0`);
  for (const r of rows) {
    // JSON keeps 1 and '1' apart; bigint has no JSON form, so it is written as its digits tagged n.
    h.update(JSON.stringify(r.key, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v)));
    h.update(`\0${r.hash ?? ''}\n`);
  }
  return h.digest('base64url');
}
