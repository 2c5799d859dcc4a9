import { loadPipeline } from '../config/load-pipeline.js';
import { verifyPipeline, type VerifyResult } from '../engine/verify.js';
import { defineCommand, EXIT, STATE_DIR_OPTION, stateDirOf } from './command.js';
import { formatValue } from './format.js';

export const verifyCommand = defineCommand({
  name: 'verify',
  args: '<pipeline>',
  description: 'compare the model with the destination table by key and values, without trusting the snapshot',
  options: [{ flags: '--rows <n>', description: 'sample keys per kind', defaultValue: '5' }, STATE_DIR_OPTION],
  async run([file], opts, reporter) {
    const p = loadPipeline(file, stateDirOf(opts));
    const v = await verifyPipeline(p, { sampleSize: Number(opts.rows) });
    reporter.data(v);
    reporter.line(`verify ${v.pipeline}: model ${v.modelRows} rows, destination ${v.destinationRows} rows`);
    reporter.line(`  missing ${v.missing} · extra ${v.extra} · different ${v.different}`);
    for (const kind of ['missing', 'extra', 'different'] as const) {
      if (v.samples[kind].length) reporter.line(`  ${kind}: ${v.samples[kind].map((k) => k.map(formatValue).join('/')).join(', ')}`);
    }
    const cols = Object.entries(v.differentColumns);
    if (cols.length) reporter.line(`  differing columns: ${cols.map(([c, n]) => `${c} (${n})`).join(', ')}`);
    if (v.equal) reporter.line('equal');
    else if (v.consistent) reporter.line(`consistent with ${v.mode}: ${expectedText(v)}`);
    else reporter.line('NOT equal');
    return v.consistent ? EXIT.ok : EXIT.failed;
  },
});

/** Why the differences found are what the mode leaves by design. */
function expectedText(v: VerifyResult): string {
  const why = {
    missing: `${v.missing} model row(s) not in the destination (${v.mode} never inserts)`,
    extra: `${v.extra} destination row(s) not in the model (${v.mode} never deletes: rows that left the model, or were never in it, are kept)`,
    different: `${v.different} row(s) with other values (${v.mode} never updates a row it has delivered)`,
  };
  return (['missing', 'extra', 'different'] as const).filter((k) => v[k] > 0).map((k) => why[k]).join('; ') + ' — expected';
}
