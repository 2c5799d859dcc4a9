import { loadPipeline } from '../config/load-pipeline.js';
import { describeAndPrepare } from '../engine/run-pipeline.js';
import { checkActions } from '../engine/actions.js';
import { openDestination, openSource } from '../engine/connect.js';
import { formatType } from '../types/logical-type.js';
import { defineCommand, EXIT, STATE_DIR_OPTION, stateDirOf } from './command.js';
import { table } from './format.js';

export const validateCommand = defineCommand({
  name: 'validate',
  args: '<pipeline>',
  description: 'check the pipeline file, both connections, and that the model fits the destination table; writes nothing',
  options: [STATE_DIR_OPTION],
  async run([file], opts, reporter) {
    const p = loadPipeline(file, stateDirOf(opts));
    reporter.line(`${p.file}: config ok (pipeline ${p.name}, mode ${p.spec.mode})`);
    const source = await openSource(p);
    try {
      const dest = await openDestination(p, { isDryRun: true });
      try {
        const { plan, schema, targetExists, problems } = await describeAndPrepare(p, source, dest, false);
        reporter.line(`source ${p.spec.source.type}: ${schema.columns.length} model columns`);
        reporter.line(
          table(
            ['model column', 'type', 'destination column'],
            plan.columns.map((c, i) => [plan.modelNames[i], formatType(c.type), c.name + (plan.keys.includes(c.name) ? ' (key)' : '')]),
          ),
        );
        reporter.line(targetExists ? `destination ${dest.label}: table exists` : `destination ${dest.label}: table does not exist; the first run creates it`);
        const warnings = await checkActions(p, dest, await dest.actionNames());
        for (const w of warnings) reporter.line(`warning: ${w}`);
        reporter.data({ pipeline: p.name, ok: problems.length === 0, targetExists, columns: plan.columns, problems, warnings });
        if (problems.length) {
          reporter.error(`the model does not fit ${dest.label}:\n  - ${problems.join('\n  - ')}`);
          return EXIT.config;
        }
        reporter.line('valid');
        return EXIT.ok;
      } finally {
        await dest.close();
      }
    } finally {
      await source.close();
    }
  },
});
