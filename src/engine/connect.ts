import { resolve } from 'node:path';
import type { Pipeline } from '../config/load-pipeline.js';
import type { Destination } from '../destinations/destination.js';
import { createSource } from '../sources/create-source.js';
import type { Source } from '../sources/source.js';
import { PostgresDestination } from '../destinations/postgres/postgres-destination.js';
import { connectEmbedded, connectServer } from '../destinations/postgres/pg-session.js';
import { wrapPgError } from '../destinations/postgres/pg-errors.js';
import { ConnectionError, OutflowError } from '../errors.js';
import { redact } from '../config/redact.js';

export async function openSource(p: Pipeline): Promise<Source> {
  try {
    return await createSource(p.spec.source, p.baseDir);
  } catch (e) {
    if (e instanceof OutflowError) throw e;
    throw new ConnectionError(`source ${p.spec.source.type}: ${redact((e as Error).message)}`, { cause: e });
  }
}

/** A label naming the destination without secrets: engine, host, database and table. */
export function destinationLabel(p: Pipeline): string {
  const d = p.spec.destination;
  if (d.type === 'pglite') return `pglite ${d.table}`;
  try {
    const u = new URL(d.url);
    return `postgres ${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname} ${d.table}`;
  } catch {
    return `postgres ${d.table}`;
  }
}

export async function openDestination(p: Pipeline, opts: { isDryRun?: boolean } = {}): Promise<Destination> {
  const d = p.spec.destination;
  const label = destinationLabel(p);
  const common = { table: d.table, pipelineName: p.name, label, isDryRun: opts.isDryRun };
  try {
    const session =
      d.type === 'pglite'
        ? await connectEmbedded(resolve(p.baseDir, d.path))
        : await connectServer(d, { connectTimeoutMs: p.spec.timeouts.connect, statementTimeoutMs: p.spec.timeouts.statement, label, baseDir: p.baseDir });
    return new PostgresDestination(session, common);
  } catch (e) {
    throw wrapPgError(`${label}: cannot connect`, e);
  }
}
