import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadCatalog, type CatalogEntry } from '../server/pipeline-catalog.js';
import { HistoryStores } from '../server/history-stores.js';
import type { RunRecord } from '../state/history.js';
import { defineCommand, EXIT, STATE_DIR_OPTION, STATE_URL_OPTION, stateDirOf } from './command.js';
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
  options: [STATE_DIR_OPTION, STATE_URL_OPTION],
  async run([dir = '.'], opts, reporter) {
    const listed: Listed[] = [];
    const stores = new HistoryStores();
    try {
      for (const entry of loadCatalog(dir, stateDirOf(opts))) {
        const item: Listed = { name: entry.name, file: relative(dir, entry.file), valid: !entry.error, error: entry.error };
        const last = await lastRunOf(stores, entry);
        if (last) item.lastRun = { id: last.id, status: last.status, startedAt: last.startedAt, durationMs: last.durationMs, counts: last.counts };
        listed.push(item);
      }
    } finally {
      await stores.closeAll();
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

async function lastRunOf(stores: HistoryStores, entry: CatalogEntry): Promise<RunRecord | undefined> {
  const p = entry.pipeline;
  // Listing never creates a state folder: only one that already holds history is read.
  if (!p || (!p.stateUrl && !existsSync(join(p.stateDir, 'history.sqlite')))) return undefined;
  const [last] = await (await stores.get(p)).listRuns(entry.name, 1);
  return last;
}
