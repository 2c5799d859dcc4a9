import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { previewCommand } from '../../src/cli/preview-command.js';
import { runCommand } from '../../src/cli/run-command.js';
import { openFixture, type Fixture } from '../support/change-fixture.js';
import { callCommand } from '../support/command-output.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

describe('preview never contradicts itself', () => {
  it('with no snapshot (another state folder) over a destination that has the rows: no "added", and "would insert 0" says the rows are unchanged', async () => {
    f = await openFixture('pv_text');
    await f.warehouseSql(`CREATE TABLE items AS SELECT i::INTEGER AS id, i AS v FROM range(1, 4) t(i)`);
    const file = f.pipelineFile({ mode: 'upsert' });
    expect((await callCommand(runCommand, [file], {})).code).toBe(0);
    const other = join(f.dir, 'other-state');
    const pv = await callCommand(previewCommand, [file], { rows: '5', stateDir: other });
    expect(pv.code).toBe(0);
    expect(pv.out).toMatch(/full: first run: no snapshot yet; state in .*other-state\)/);
    expect(pv.out).toMatch(/model rows 3: all are sent and compared with the destination/);
    expect(pv.out).not.toMatch(/added 3/);
    expect(pv.out).toMatch(/would insert 0, update 0, leave 3 unchanged, delete 0 \(it has 3 rows\)/);
    // With the run's own state folder the preview is incremental and nothing is to do.
    const same = await callCommand(previewCommand, [file], { rows: '5' });
    expect(same.out).toMatch(/\(upsert, incremental; state in /);
    expect(same.out).toMatch(/added 0 · changed 0 · removed 0/);
  });
});
