import { loadPipeline } from '../config/load-pipeline.js';
import { verifyPipeline } from '../engine/verify.js';
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
    reporter.line(v.equal ? 'equal' : 'NOT equal');
    return v.equal ? EXIT.ok : EXIT.failed;
  },
});
