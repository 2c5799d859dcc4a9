import type { Pipeline } from '../config/load-pipeline.js';
import type { Destination } from '../destinations/destination.js';
import { createDestination } from '../destinations/create-destination.js';
import { createSource } from '../sources/create-source.js';
import type { Source } from '../sources/source.js';
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

/**
 * `stagingName` names the destination's staging tables when several processes deliver one
 * pipeline at once (workers, one partition each); the pipeline's name otherwise.
 */
export async function openDestination(p: Pipeline, opts: { isDryRun?: boolean; stagingName?: string } = {}): Promise<Destination> {
  try {
    return await createDestination(p.spec.destination, {
      pipelineName: opts.stagingName ?? p.name,
      baseDir: p.baseDir,
      isDryRun: opts.isDryRun,
      timeouts: { connect: p.spec.timeouts.connect, statement: p.spec.timeouts.statement },
      retry: { attempts: p.spec.retry.attempts, initialDelayMs: p.spec.retry.initial_delay, maxDelayMs: p.spec.retry.max_delay },
    });
  } catch (e) {
    if (e instanceof OutflowError) throw e;
    throw new ConnectionError(`destination ${p.spec.destination.type}: ${redact((e as Error).message)}`, { cause: e });
  }
}
