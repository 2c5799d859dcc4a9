import { quotedIdentifier, type DuckDBConnection } from '@duckdb/node-api';
import type { Column } from '../types/logical-type.js';
import type { SyncMode } from '../config/pipeline-schema.js';
import { FULL_DELTA_VIEW } from './compute-diff.js';

export type ChangeOperation = 'inserted' | 'updated' | 'deleted' | 'rejected' | 'sent';

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
}

/**
 * The keys a run changed, read from the diff's own tables in DuckDB (the delta of added and
 * changed rows, the removed keys of mirror) and streamed a chunk at a time, so a large run
 * never holds its keys in a JS array. Rejected rows are left out here: the engine records
 * them with their reasons. What each row's operation was follows from the diff and the mode:
 * an added row is inserted, a changed one updated; where the mode ignores a kind (insert_new
 * leaves changed rows alone, update ignores new keys) it is not listed. In a full sync that
 * merged into a table with rows, the destination's counts say how many were inserted and
 * updated, and each row is listed as `sent`.
 */
export async function* changeKeys(c: DuckDBConnection, input: ChangeKeysInput): AsyncIterable<ChangeEntry[]> {
  const key = (alias: string) => `to_json(struct_pack(${input.keyColumns.map((k) => `${quotedIdentifier(k.name)} := ${alias}.${quotedIdentifier(k.name)}`).join(', ')}))::VARCHAR`;
  const opOf = input.isFull ? `'sent'` : `CASE WHEN d._added THEN 'inserted' ELSE 'updated' END`;
  const kinds =
    input.mode === 'insert_new' || input.mode === 'insert' ? 'd._added' : input.mode === 'update' && !input.isFull ? 'NOT d._added' : 'true';
  // Rows loaded straight into an empty table were read from the unnumbered full view and
  // none was refused (a refusal sends the run through staging instead).
  const parts = input.loadedDirectly
    ? [`SELECT 'inserted' AS op, ${key('d')} AS key FROM ${FULL_DELTA_VIEW} AS d`]
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
