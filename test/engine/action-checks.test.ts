import { afterEach, describe, expect, it } from 'vitest';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { validateCommand } from '../../src/cli/validate-command.js';
import { openFixture, type Fixture } from '../support/change-fixture.js';
import { callCommand } from '../support/command-output.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

describe('actions and tables that do not exist yet', () => {
  it('validate warns about an action on a missing table (naming action, hook and table) and still exits 0', async () => {
    f = await openFixture('act_check');
    await f.warehouseSql(`CREATE TABLE items AS SELECT i::INTEGER AS id FROM range(1, 4) t(i)`);
    const file = f.pipelineFile({
      mode: 'upsert',
      extra: `actions:
  before: [{ name: note start, sql: "INSERT INTO no_such_sync_log VALUES (now(), 'start')" }]
  after: [{ name: count, sql: "SELECT count(*) FROM {{target_table}}" }]
  on_failure: [{ name: truncate staging, sql: "TRUNCATE {{staging_table}}" }]
`,
    });
    const out = await callCommand(validateCommand, [file], {}, true);
    expect(out.code).toBe(0);
    const doc = JSON.parse(out.out) as { warnings: string[] };
    // The target does not exist before the first run either: the after action is warned about too.
    expect(doc.warnings).toEqual([
      expect.stringMatching(/^action "note start" \(before\): relation "no_such_sync_log" does not exist; a run fails at this action/),
      expect.stringMatching(/^action "count" \(after\): relation ".*" does not exist/),
    ]);
    await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY)`);
    const again = JSON.parse((await callCommand(validateCommand, [file], {}, true)).out) as { warnings: string[] };
    expect(again.warnings).toHaveLength(1);
  });

  it('a run that fails before staging reports its own error once: on_failure using {{staging_table}} is skipped, not a second failure', async () => {
    f = await openFixture('act_skip');
    await f.warehouseSql(`CREATE TABLE items AS SELECT i::INTEGER AS id FROM range(1, 4) t(i)`);
    const p = f.pipeline({
      mode: 'upsert',
      extra: `actions:
  before: [{ name: note start, sql: "INSERT INTO no_such_sync_log VALUES (1)" }]
  on_failure: [{ name: truncate staging, sql: "TRUNCATE {{staging_table}}" }]
`,
    });
    const r = await runPipeline(p);
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/^action "note start" \(before\) failed: relation "no_such_sync_log" does not exist$/);
    expect(r.stages.map((s) => s.stage)).toContain('action "truncate staging" (on_failure) skipped: it uses {{staging_table}} and this run created no staging table');
  });
});
