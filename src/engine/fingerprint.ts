import { createHash } from 'node:crypto';
import type { Pipeline } from '../config/load-pipeline.js';
import type { ColumnPlan } from './column-plan.js';
import { formatType } from '../types/logical-type.js';
import { destinationLabel } from '../destinations/destination-configs.js';
import { version as duckdbVersion } from '@duckdb/node-api';

/**
 * What the snapshot's hashes depend on: the mapping (model column → destination column and
 * type), the key, the destination, and DuckDB's hash function. When any of them changes the
 * snapshot no longer describes the destination, and the run is a full sync.
 */
export function snapshotFingerprint(p: Pipeline, plan: ColumnPlan): string {
  const basis = {
    v: 1,
    columns: plan.columns.map((c, i) => [plan.modelNames[i], c.name, formatType(c.type)]),
    keys: plan.keys,
    destination: destinationLabel(p.spec.destination),
    duckdb: duckdbVersion(),
  };
  return createHash('sha256').update(JSON.stringify(basis)).digest('hex').slice(0, 32);
}
