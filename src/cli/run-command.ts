import { loadPipeline } from '../config/load-pipeline.js';
import { runPipeline } from '../engine/run-pipeline.js';
import { LockedError } from '../errors.js';
import type { RunResult } from '../state/run-result.js';
import { defineCommand, EXIT, exitCodeFor, STATE_DIR_OPTION, STATE_URL_OPTION, stateDirOf } from './command.js';
import { countsLine, duration, formatValue } from './format.js';
import type { Reporter } from './reporter.js';

export const runCommand = defineCommand({
  name: 'run',
  args: '<pipeline>',
  description: 'run a pipeline once: send what changed in the model to the destination',
  options: [
    { flags: '--full', description: 'ignore the snapshot and resync every row (the snapshot is rebuilt)' },
    { flags: '--allow-mass-delete', description: 'let mirror/replace delete more than max_delete_ratio of the target' },
    STATE_DIR_OPTION,
    STATE_URL_OPTION,
  ],
  async run([file], opts, reporter) {
    const p = loadPipeline(file, stateDirOf(opts));
    const abort = new AbortController();
    const onSignal = () => abort.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let result: RunResult;
    try {
      result = await runPipeline(p, {
        full: !!opts.full,
        allowMassDelete: !!opts.allowMassDelete,
        trigger: 'cli',
        signal: abort.signal,
        onProgress: (e) => reporter.progress(e),
      });
    } catch (e) {
      if (e instanceof LockedError) {
        reporter.error(e.message);
        return EXIT.locked;
      }
      throw e;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      reporter.stopProgress();
    }
    printRun(result, reporter);
    if (result.status === 'success') return EXIT.ok;
    if (result.status === 'partial') return EXIT.partial;
    if (result.error) reporter.error(result.error, result.cause);
    // A run that could not start for a config reason (missing table, bad model SQL) exits 2, as `validate` does.
    return result.cause === undefined ? EXIT.failed : exitCodeFor(result.cause);
  },
});

export function printRun(r: RunResult, reporter: Reporter): void {
  const { cause: _cause, ...data } = r;
  reporter.data(data);
  reporter.line(`run ${r.runNumber} of ${r.pipeline}: ${r.status} in ${duration(r.durationMs)} (${r.mode}, ${r.syncKind}${r.fullReason ? `: ${r.fullReason}` : ''})`);
  reporter.line(`  ${countsLine(r.counts)}`);
  if (r.rejected.length) {
    reporter.line(`  rejected rows (${r.counts.rejected}; they are retried next run):`);
    for (const x of r.rejected.slice(0, 20)) {
      reporter.line(`    key ${Object.entries(x.key).map(([k, v]) => `${k}=${formatValue(v)}`).join(', ')}${x.column ? ` column ${x.column}` : ''}: ${x.reason}`);
    }
    if (r.rejected.length > 20) reporter.line(`    … ${r.rejected.length - 20} more: outflow runs ${r.pipeline} --rejected`);
  }
}
