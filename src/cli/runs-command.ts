import { loadPipeline } from '../config/load-pipeline.js';
import { openHistory } from '../state/history.js';
import { defineCommand, EXIT, STATE_DIR_OPTION, STATE_URL_OPTION, stateDirOf } from './command.js';
import { countsLine, duration, table } from './format.js';

export const runsCommand = defineCommand({
  name: 'runs',
  args: '<pipeline>',
  description: 'run history of a pipeline, or the rejected rows of a run',
  options: [
    { flags: '--limit <n>', description: 'how many runs', defaultValue: '20' },
    { flags: '--rejected', description: 'list the rejected rows of the latest run (or of --run)' },
    { flags: '--run <n>', description: 'the run (its number) to show rejected rows or changes for; default the latest' },
    { flags: '--changes', description: 'the rows a run changed: key and operation (inserted, updated, deleted, rejected with why); paged by --limit and --offset' },
    { flags: '--offset <n>', description: 'with --changes: skip this many entries', defaultValue: '0' },
    STATE_DIR_OPTION,
    STATE_URL_OPTION,
  ],
  async run([file], opts, reporter) {
    const p = loadPipeline(file, stateDirOf(opts));
    const history = await openHistory(p);
    try {
      if (opts.rejected || opts.changes) {
        const run = opts.run ? await history.getRunByNumber(p.name, Number(opts.run)) : (await history.listRuns(p.name, 1))[0];
        if (!run || run.pipeline !== p.name) {
          reporter.error(opts.run ? `run ${opts.run} of ${p.name} not found` : `${p.name} has no runs yet`);
          return EXIT.failed;
        }
        if (opts.changes) {
          const limit = Number(opts.limit);
          const offset = Number(opts.offset);
          const counts = await history.countChanges(run.id);
          const total = Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
          const changes = await history.changes(run.id, limit, offset);
          reporter.data({ run: run.number, total, counts, offset, limit, changes });
          reporter.line(`run ${run.number}: ${total} change(s) logged (${Object.entries(counts).map(([op, n]) => `${op} ${n}`).join(' · ') || 'none'}); showing ${offset + 1}–${offset + changes.length}`);
          if (changes.length) {
            reporter.line(table(['operation', 'key', 'reason'], changes.map((c) => [c.op, JSON.stringify(c.key), c.reason ? `${c.column ? `${c.column}: ` : ''}${c.reason}` : ''])));
          }
          if (offset + changes.length < total) reporter.line(`next page: --changes --run ${run.number} --offset ${offset + changes.length}`);
          return EXIT.ok;
        }
        const rows = await history.rejectedRows(run.id, 10_000);
        reporter.data({ run: run.number, rejected: rows });
        reporter.line(`run ${run.number}: ${rows.length} rejected row(s)`);
        if (rows.length) {
          reporter.line(table(['key', 'column', 'reason'], rows.map((r) => [JSON.stringify(r.key), r.column ?? '', r.reason])));
        }
        return EXIT.ok;
      }
      const runs = await history.listRuns(p.name, Number(opts.limit));
      reporter.data(runs);
      if (runs.length === 0) {
        reporter.line(`${p.name} has no runs yet`);
        return EXIT.ok;
      }
      reporter.line(
        table(
          ['run', 'started', 'status', 'trigger', 'kind', 'duration', 'rows'],
          runs.map((r) => [String(r.number), r.startedAt, r.status, r.trigger, r.syncKind ?? '', duration(r.durationMs), countsLine(r.counts)]),
        ),
      );
      for (const r of runs.filter((x) => x.error).slice(0, 3)) reporter.line(`run ${r.number}: ${r.error}`);
      return EXIT.ok;
    } finally {
      await history.close();
    }
  },
});
