import { join, resolve } from 'node:path';
import type { Pipeline } from './load-pipeline.js';
import { buildPipeline } from './load-pipeline.js';
import type { PipelineInput } from './pipeline-schema.js';

export interface DefineOptions {
  /** Folder that relative paths (DuckDB files, CSVs, state.dir) resolve from. Default: the current folder. */
  baseDir?: string;
  /** Overrides state.dir and OUTFLOW_STATE_DIR. */
  stateDir?: string;
  /** Where ${NAME} references are looked up. Default: process.env. */
  env?: NodeJS.ProcessEnv;
}

/**
 * A pipeline written in TypeScript instead of YAML: the same fields, typed (editors complete
 * them), validated by the same schema with the same errors, ${ENV} references included.
 *
 *   const p = definePipeline({ name: 'states', source: { type: 'duckdb', … }, … });
 *   await runPipeline(p);
 */
export function definePipeline(spec: PipelineInput & { name: string }, opts: DefineOptions = {}): Pipeline {
  const baseDir = resolve(opts.baseDir ?? '.');
  // No file: errors name the pipeline as if it were <name>.ts in baseDir.
  return buildPipeline(spec, join(baseDir, `${spec.name}.ts`), { stateDir: opts.stateDir, env: opts.env });
}
