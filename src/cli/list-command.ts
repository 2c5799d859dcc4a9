import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadCatalog } from '../server/pipeline-catalog.js';
import { HistoryStore, type RunRecord } from '../state/history-store.js';
import { defineCommand, EXIT, STATE_DIR_OPTION, stateDirOf } from './command.js';
import { table } from './format.js';

interface Listed {
  name: string;
  file: string;
  valid: boolean;
  error?: string;
  lastRun?: Pick<RunRecord, 'id' | 'status' | 'startedAt' | 'durationMs' | 'counts'>;
}

export const listCommand = defineCommand({
  name: 'list',
  args: '[dir]',
  description: 'the pipelines in a folder: whether each is valid, and its last run',
  options: [STATE_DIR_OPTION],
  async run([dir = '.'], opts, reporter) {
    const listed: Listed[] = [];
    for (const entry of loadCatalog(dir, stateDirOf(opts))) {
      const item: Listed = { name: entry.name, file: relative(dir, entry.file), valid: !entry.error, error: entry.error };
      const stateDir = entry.pipeline?.stateDir;
      // Listing never creates a state folder: only one that already holds history is read.
      if (stateDir && existsSync(join(stateDir, 'history.sqlite'))) {
        const history = HistoryStore.open(stateDir);
        try {
          const last = history.listRuns(entry.name, 1)[0];
          if (last) item.lastRun = { id: last.id, status: last.status, startedAt: last.startedAt, durationMs: last.durationMs, counts: last.counts };
        } finally {
          history.close();
        }
      }
      listed.push(item);
    }
    reporter.data(listed);
    if (listed.length === 0) {
      reporter.line(`no pipeline files (*.yaml, *.yml) in ${dir}`);
      return EXIT.ok;
    }
    reporter.line(
      table(
        ['pipeline', 'file', 'valid', 'last run'],
        listed.map((p) => [p.name, p.file, p.valid ? 'yes' : 'no', p.lastRun ? `run ${p.lastRun.id} ${p.lastRun.status} at ${p.lastRun.startedAt}` : '-']),
      ),
    );
    for (const p of listed.filter((x) => x.error)) reporter.line(`${p.file}: ${p.error}`);
    return listed.some((p) => !p.valid) ? EXIT.config : EXIT.ok;
  },
});
