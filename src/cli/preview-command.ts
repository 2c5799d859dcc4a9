import { loadPipeline } from '../config/load-pipeline.js';
import { previewPipeline } from '../engine/run-pipeline.js';
import { defineCommand, EXIT, STATE_DIR_OPTION, stateDirOf } from './command.js';
import { formatValue, table } from './format.js';

export const previewCommand = defineCommand({
  name: 'preview',
  args: '<pipeline>',
  description: 'dry run: what a run would send and change, with sample rows; writes nothing',
  options: [
    { flags: '--full', description: 'preview a full resync' },
    { flags: '--rows <n>', description: 'sample rows per kind', defaultValue: '5' },
    STATE_DIR_OPTION,
  ],
  async run([file], opts, reporter) {
    const p = loadPipeline(file, stateDirOf(opts));
    const pv = await previewPipeline(p, { full: !!opts.full, sampleSize: Number(opts.rows) });
    reporter.data(pv);
    reporter.line(`preview of ${pv.pipeline} (${pv.mode}, ${pv.syncKind}${pv.fullReason ? `: ${pv.fullReason}` : ''}; state in ${p.stateDir})`);
    if (pv.syncKind === 'full') {
      // With no snapshot to diff against, every model row is sent and the destination decides
      // what changes: "added N" here would contradict "would insert 0" below.
      reporter.line(`  model rows ${pv.counts.read}: all are sent and compared with the destination${pv.counts.invalid ? ` · unsendable ${pv.counts.invalid}` : ''}`);
    } else {
      reporter.line(`  model rows ${pv.counts.read} · added ${pv.counts.added} · changed ${pv.counts.changed} · removed ${pv.counts.removed}${pv.counts.invalid ? ` · unsendable ${pv.counts.invalid}` : ''}`);
    }
    if (pv.counts.notSent) reporter.line(`  ${pv.counts.notSent} changed row(s) would not be sent: ${pv.mode} never updates a delivered row`);
    if (pv.counts.leftModel) reporter.line(`  ${pv.counts.leftModel} row(s) left the model and stay in the destination (${pv.mode} never deletes)`);
    if (pv.planned) {
      const { wouldInsert, wouldUpdate, wouldDelete, targetRows } = pv.planned;
      const sent = pv.counts.added + pv.counts.changed - pv.counts.invalid;
      const same = Math.max(0, sent - wouldInsert - wouldUpdate);
      reporter.line(
        `  the destination would insert ${wouldInsert}, update ${wouldUpdate}${same ? `, leave ${same} unchanged` : ''}, delete ${wouldDelete} (it has ${targetRows} rows)`,
      );
    } else if (!pv.targetExists) {
      reporter.line(`  the table does not exist: a run creates it and inserts ${pv.counts.added} rows`);
    }
    for (const problem of pv.problems) reporter.line(`  problem: ${problem}`);
    for (const kind of ['added', 'changed'] as const) {
      if (pv.samples[kind].length === 0) continue;
      reporter.line(`\n${kind} (first ${pv.samples[kind].length}):`);
      reporter.line(table(pv.columns, pv.samples[kind].map((r) => r.map(formatValue))));
    }
    if (pv.samples.removed.length) {
      reporter.line(`\nremoved keys (first ${pv.samples.removed.length}):`);
      reporter.line(pv.samples.removed.map((r) => '  ' + r.map(formatValue).join(', ')).join('\n'));
    }
    if (pv.writes?.length) {
      reporter.line(`\nfirst requests a run would send (none were sent):`);
      for (const w of pv.writes) {
        reporter.line(`  ${w.op}, ${w.rows} row${w.rows === 1 ? '' : 's'}: ${w.request}`);
        for (const [name, value] of Object.entries(w.details ?? {})) reporter.line(`    ${name}: ${value}`);
        if (w.body !== undefined) reporter.line(`    body: ${w.body}`);
      }
    }
    return pv.problems.length ? EXIT.config : EXIT.ok;
  },
});
