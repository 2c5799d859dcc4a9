import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHistory } from '../../src/state/history.js';
import { buildCli, killHard, removeCliBuild, runCli, startPaused } from '../support/cli-process.js';
import { openFixture, type Fixture } from '../support/change-fixture.js';
import { stateSchema } from '../support/state-database.js';

/**
 * Shared state end to end: `outflow run` processes with the same --state-url and different
 * state folders (two machines, in effect) share one run lock and one history.
 */
const state = stateSchema();
// The test database trusts local connections, so a password in the URL is carried but unused: outflow must never print it.
const PASSWORD = 'stateSecretPw9';
const stateUrl = (() => {
  const u = new URL(state.url);
  if (!u.password) u.password = PASSWORD;
  return u.toString();
})();
let f: Fixture | undefined;

beforeAll(() => buildCli(), 120_000);
afterAll(async () => {
  removeCliBuild();
  await f?.close();
  await state.drop();
});

interface Listed {
  number: number;
  status: string;
  trigger: string;
  error?: string;
}

describe('outflow run --state-url', () => {
  it('refuses a second run of the pipeline from another state folder while one runs, and `runs` shows both from a third', async () => {
    f = await openFixture('shared');
    await f.warehouseSql(`CREATE TABLE items AS SELECT i::INTEGER AS id, 'n' || i AS name FROM range(1, 101) t(i)`);
    await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, name text)`);
    const file = f.pipelineFile({ mode: 'upsert' });
    const [dirA, dirB, dirC] = ['a', 'b', 'c'].map((d) => join(f!.dir, d));
    const shared = (dir: string) => ['--state-url', stateUrl, '--state-dir', dir];
    const outputs: string[] = [];
    const cli = async (args: string[]) => {
      const r = await runCli(args);
      outputs.push(r.stdout, r.stderr);
      return r;
    };

    const holder = await startPaused(['run', file, ...shared(dirA)], 'before-stage', join(f.dir, 'pause'));
    expect(holder.paused, holder.result?.stderr).toBe(true);
    const refused = await cli(['run', file, ...shared(dirB)]);
    expect(refused.code, refused.stderr).toBe(4);
    expect(refused.stderr).toMatch(new RegExp(`pipeline ${f.name} is already running \\(pid ${holder.run.child.pid} on ${hostname()}, since .*, run \\d+\\); wait for it to finish`));

    const listed = await cli(['--json', 'runs', file, ...shared(dirC)]);
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as Listed[]).map((r) => [r.number, r.status])).toEqual([
      [2, 'skipped'],
      [1, 'running'],
    ]);
    const text = await cli(['runs', file, ...shared(dirC)]);
    expect(text.stdout).toMatch(/already running \(pid/);
    // History lives in the database: no state folder holds a history file.
    for (const dir of [dirA, dirB, dirC]) expect(existsSync(join(dir, 'history.sqlite'))).toBe(false);

    // The holder dies; the lock frees itself with its connection, and the next run closes its record.
    await killHard(holder.run);
    await waitForLockFree(stateUrl, f.name);
    const next = await cli(['--json', 'run', file, ...shared(dirB)]);
    expect(next.code, next.stderr).toBe(0);
    expect(await f.query(`SELECT count(*)::int AS n FROM "${f.table}"`)).toEqual([{ n: 100 }]);
    const after = JSON.parse((await cli(['--json', 'runs', file, ...shared(dirC)])).stdout) as Listed[];
    expect(after.map((r) => [r.number, r.status])).toEqual([
      [3, 'success'],
      [2, 'skipped'],
      [1, 'failed'],
    ]);
    expect(after[2].error).toMatch(/^the process running it died \(pid \d+\)$/);

    const list = await cli(['--json', 'list', f.dir, ...shared(dirC)]);
    expect((JSON.parse(list.stdout) as { name: string; lastRun?: { status: string } }[]).find((p) => p.name === f!.name)?.lastRun?.status).toBe('success');

    // An unreachable state database: the error names host and database, never the password.
    const down = new URL(stateUrl);
    down.port = '1';
    const failed = await cli(['run', file, '--state-url', down.toString(), '--state-dir', dirB]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`state database: cannot connect to ${down.host}/`);
    expect(outputs.join('\n')).not.toContain(new URL(stateUrl).password);
  });
});

async function waitForLockFree(stateUrl: string, pipeline: string): Promise<void> {
  const h = await openHistory({ stateDir: '.', stateUrl });
  try {
    const deadline = Date.now() + 10_000;
    while ((await h.lockHolder(pipeline)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  } finally {
    await h.close();
  }
}
