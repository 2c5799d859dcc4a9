import { z } from 'zod';
import { pgliteDestinationConfig, postgresDestinationConfig, postgresDestinationLabel } from './postgres/postgres-config.js';
import { httpDestinationConfig, httpDestinationLabel } from './http/http-config.js';
import { redisDestinationConfig, redisDestinationLabel } from './redis/redis-config.js';
import { mysqlDestinationConfig, mysqlDestinationLabel } from './mysql/mysql-config.js';

/**
 * Every destination's config schema (the pipeline file's `destination:`), one line per
 * connector. Schemas load eagerly (validation needs them); the connectors themselves load
 * lazily in create-destination.ts.
 */
export const destinationConfig = z.discriminatedUnion('type', [postgresDestinationConfig, pgliteDestinationConfig, mysqlDestinationConfig, httpDestinationConfig, redisDestinationConfig]);
export type DestinationConfig = z.infer<typeof destinationConfig>;
export type DestinationType = DestinationConfig['type'];

/**
 * Each connector's label function: the target named without secrets (engine, host,
 * database, table). Shown in messages and the UI, and part of the snapshot fingerprint.
 */
const labels: { [T in DestinationType]: (config: Extract<DestinationConfig, { type: T }>) => string } = {
  postgres: postgresDestinationLabel,
  pglite: postgresDestinationLabel,
  mysql: mysqlDestinationLabel,
  http: httpDestinationLabel,
  redis: redisDestinationLabel,
};

export function destinationLabel(config: DestinationConfig): string {
  return (labels[config.type] as (c: DestinationConfig) => string)(config);
}
