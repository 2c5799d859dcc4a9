import type { Destination } from './destination.js';
import { destinationLabel, type DestinationConfig, type DestinationType } from './destination-configs.js';

/** What a connector needs from the pipeline besides its own config. */
export interface DestinationContext {
  /** Names helper objects (staging tables), so two pipelines never share one. */
  pipelineName: string;
  /** Anchors relative paths (data directories, CA files): the pipeline file's folder. */
  baseDir: string;
  /** The target named without secrets (destination-configs.ts), for messages. */
  label: string;
  /** Dry runs (validate, preview, verify) never change the target. */
  isDryRun?: boolean;
  timeouts: { connect?: number; statement?: number };
  /** The pipeline's retry policy: record destinations retry a request within it before failing the run. */
  retry?: { attempts: number; initialDelayMs: number; maxDelayMs: number };
}

export type DestinationOpener<C extends DestinationConfig = DestinationConfig> = (config: C, ctx: DestinationContext) => Promise<Destination>;

/**
 * One line per connector, imported when a pipeline uses it (a driver such as mysql2 takes
 * longer to load than a small incremental run takes). Each connector's `open` connects and
 * turns connection failures into the project's errors itself.
 */
const openers: { [T in DestinationType]: () => Promise<DestinationOpener<Extract<DestinationConfig, { type: T }>>> } = {
  postgres: async () => (await import('./postgres/postgres-destination.js')).openPostgresDestination,
  pglite: async () => (await import('./postgres/postgres-destination.js')).openPostgresDestination,
  http: async () => (await import('./http/http-destination.js')).openHttpDestination,
  redis: async () => (await import('./redis/redis-destination.js')).openRedisDestination,
  mysql: async () => (await import('./mysql/mysql-destination.js')).openMysqlDestination,
};

const testOpeners = new Map<string, DestinationOpener>();

/** Opens the destination a pipeline names. */
export async function createDestination(config: DestinationConfig, ctx: Omit<DestinationContext, 'label'>): Promise<Destination> {
  const full = { ...ctx, label: destinationLabel(config) };
  const override = testOpeners.get(config.type);
  if (override) return override(config, full);
  const open = (await openers[config.type]()) as DestinationOpener;
  return open(config, full);
}

/**
 * Tests only: open `type` with another connector (e.g. a record-shaped test destination
 * writing to a real Postgres), so the engine's paths for a shape can be proven before a
 * real connector of that shape exists. `undefined` restores the registry's own.
 */
export function replaceDestinationForTests(type: DestinationType, open: DestinationOpener | undefined): void {
  if (open) testOpeners.set(type, open);
  else testOpeners.delete(type);
}
