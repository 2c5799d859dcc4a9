/**
 * outflow as a library: load or define a pipeline, then run, preview or verify it — what
 * the CLI does, without the CLI.
 *
 *   import { loadPipeline, runPipeline } from 'outflow';
 *   const result = await runPipeline(loadPipeline('pipelines/states.yaml'));
 */
export { loadPipeline, parsePipeline, type Pipeline, type LoadOptions } from './config/load-pipeline.js';
export { definePipeline, type DefineOptions } from './config/define-pipeline.js';
export { runPipeline, previewPipeline, type RunOptions, type PreviewResult, type ProgressEvent } from './engine/run-pipeline.js';
export { verifyPipeline, type VerifyResult } from './engine/verify.js';
export { pipelineJsonSchema } from './config/pipeline-json-schema.js';
export type { RunResult, RunStatus, RowCounts, RejectedRowRecord, StageTiming } from './state/run-result.js';
export type { PipelineInput, PipelineSpec, SyncMode } from './config/pipeline-schema.js';
export {
  OutflowError,
  ConfigError,
  ConnectionError,
  SchemaMismatchError,
  ModelError,
  ActionError,
  LockedError,
  MassDeleteError,
  TransientError,
  CancelledError,
} from './errors.js';
