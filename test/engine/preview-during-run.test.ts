import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { previewPipeline, runPipeline } from '../../src/engine/run-pipeline.js';
import { buildCli, killHard, removeCliBuild, startPaused } from '../support/cli-process.js';
import { openNamesFixture, type Fixture } from '../support/change-fixture.js';

beforeAll(() => buildCli(), 120_000);
afterAll(() => removeCliBuild());

describe('preview while a run holds the snapshot', () => {
  let f: Fixture | undefined;
  afterAll(async () => {
    await f?.close();
  });

  it('reads the last committed snapshot instead of fighting the run for its file', async () => {
    f = await openNamesFixture('pvrun', 100);
    // Both processes read the warehouse read-only (DuckDB lets one process write a file).
    const file = f.pipelineFile({ mode: 'upsert' });
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^(  path: .*)$/m, '$1\n  read_only: true'));
    const p = loadPipeline(file);
    expect((await runPipeline(p)).status).toBe('success');
    await f.warehouseSql([`UPDATE items SET name = 'changed' WHERE id <= 3`, `INSERT INTO items VALUES (101, 'new')`]);

    // Another process is in the middle of a run: it has the snapshot open for writing.
    const started = await startPaused(['run', file], 'merge', join(f.dir, 'pause'));
    expect(started.paused, started.result?.stderr).toBe(true);
    try {
      const pv = await previewPipeline(p);
      expect(pv.syncKind).toBe('incremental');
      expect(pv.counts).toMatchObject({ read: 101, added: 1, changed: 3, removed: 0 });
    } finally {
      await killHard(started.run);
    }
    const next = await runPipeline(p);
    expect(next.status, next.error).toBe('success');
    expect(next.counts).toMatchObject({ added: 1, changed: 3 });
    // What preview reads follows each commit.
    expect((await previewPipeline(p)).counts).toMatchObject({ added: 0, changed: 0 });
  });
});
