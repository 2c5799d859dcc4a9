import { listValue, quotedIdentifier, quotedString, type DuckDBConnection } from '@duckdb/node-api';
import type { Column } from '../types/logical-type.js';
import type { SyncMode } from '../config/pipeline-schema.js';

export type ChangeOperation = 'inserted' | 'updated' | 'deleted' | 'rejected' | 'retried' | 'sent';

export interface ChangeEntry {
  op: ChangeOperation;
  /** The row's key as JSON text, rendered by DuckDB. */
  key: string;
  column?: string;
  reason?: string;
}

export interface ChangeKeysInput {
  mode: SyncMode;
  keyColumns: Column[];
  /** Every model row was sent (first run, --full, replace): the diff cannot tell an insert from an update. */
  isFull: boolean;
  /** The rows went straight into an empty table: every one was inserted. */
  loadedDirectly: boolean;
  /** Most entries to read (the change log's per-run bound). */
  limit: number;
  /** Keys (JSON text) the previous run had rejected: such a row delivered now is `retried`. */
  previouslyRejected: string[];
}

/**
 * The keys a run changed, read from the diff's own tables in DuckDB (the delta of added and
 * changed rows, the removed keys of mirror) and streamed a chunk at a time, so a large run
 * never holds its keys in a JS array. Rejected rows are left out here: the engine records
 * them with their reasons. What each row's operation was follows from the diff and the mode:
 * an added row is inserted, a changed one updated; where the mode ignores a kind (insert_new
 * leaves changed rows alone, update ignores new keys) it is not listed. In a full sync that
 * merged into a table with rows, the destination's counts say how many were inserted and
 * updated, and each row is listed as `sent`. A row the previous run rejected and this run
 * delivered is `retried`.
 */
export async function* changeKeys(c: DuckDBConnection, input: ChangeKeysInput): AsyncIterable<ChangeEntry[]> {
  const key = (alias: string) => `to_json(struct_pack(${input.keyColumns.map((k) => `${quotedIdentifier(k.name)} := ${alias}.${quotedIdentifier(k.name)}`).join(', ')}))::VARCHAR`;
  const diffOp = input.isFull ? `'sent'` : `CASE WHEN d._added THEN 'inserted' ELSE 'updated' END`;
  let opOf = diffOp;
  if (input.previouslyRejected.length) {
    await c.run(`CREATE OR REPLACE TEMP TABLE _outflow_prev_rejected AS SELECT unnest($1::VARCHAR[]) AS key`, [
      listValue(input.previouslyRejected),
    ]);
    // Compared field by field as text: history keeps keys as JSON written by JS (bigints as strings).
    const same = input.keyColumns
      .map((k) => `json_extract_string(p.key, ${quotedString(`$."${k.name.replace(/"/g, '\\"')}"`)}) = CAST(d.${quotedIdentifier(k.name)} AS VARCHAR)`)
      .join(' AND ');
    opOf = `CASE WHEN EXISTS (SELECT 1 FROM _outflow_prev_rejected AS p WHERE ${same}) THEN 'retried' ELSE ${diffOp} END`;
  }
  const kinds =
    input.mode === 'insert_new' || input.mode === 'insert' ? 'd._added' : input.mode === 'update' && !input.isFull ? 'NOT d._added' : 'true';
  // Rows loaded straight into an empty table are every sendable model row, and none was
  // refused (a refusal sends the run through staging instead). Their keys are read from the
  // diff's narrow key+hash table, not the full view: that would read the model again (a CSV
  // model needs more DuckDB memory to read than the key table does).
  const parts = input.loadedDirectly
    ? [`SELECT ${opOf.replace(diffOp, `'inserted'`)} AS op, ${key('d')} AS key FROM _outflow_d AS d WHERE d._bad IS NULL`]
    : [
        `SELECT ${opOf} AS op, ${key('d')} AS key FROM _outflow_delta AS d
           WHERE ${kinds} AND d._rn NOT IN (SELECT _rn FROM _outflow_rejected)`,
      ];
  if (input.mode === 'mirror' && !input.isFull) {
    parts.push(
      `SELECT 'deleted' AS op, ${key('k')} AS key FROM _outflow_removed AS k
         WHERE k._rn NOT IN (SELECT _rn FROM _outflow_rejected_removed)`,
    );
  }
  const result = await c.stream(`SELECT op, key FROM (${parts.join(' UNION ALL ')}) LIMIT ${Math.max(0, Math.floor(input.limit))}`);
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    yield chunk.getRows().map(([op, k]) => ({ op: op as ChangeOperation, key: String(k) }));
  }
}
