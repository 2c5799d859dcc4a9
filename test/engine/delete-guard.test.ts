import { afterEach, describe, expect, it } from 'vitest';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { MassDeleteError } from '../../src/errors.js';
import { openFixture, type Fixture } from '../support/change-fixture.js';

/** A model that comes back empty (an upstream bug) must not wipe the target. */
let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

const count = async (fx: Fixture) => (await fx.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${fx.table}"`))[0].n;

describe.each(['mirror', 'replace'] as const)('the delete guard in %s mode on postgres', (mode) => {
  it('refuses an empty model, keeps every row, and lets --allow-mass-delete through', async () => {
    f = await openFixture(`guard_${mode}`);
    await f.warehouseSql(`CREATE TABLE items AS SELECT i::INTEGER AS id, 'n' || i AS name FROM range(1, 101) t(i)`);
    await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, name text)`);
    const p = f.pipeline({ mode });
    expect((await runPipeline(p)).status).toBe('success');
    expect(await count(f)).toBe(100);

    // A shrink within max_delete_ratio (0.5 by default) goes through.
    await f.warehouseSql(`DELETE FROM items WHERE id > 70`);
    const shrink = await runPipeline(p);
    expect(shrink.status).toBe('success');
    // mirror deletes the rows that left; replace deletes everything and inserts the model.
    expect(shrink.counts).toMatchObject(mode === 'mirror' ? { deleted: 30, inserted: 0 } : { deleted: 100, inserted: 70 });
    expect(await count(f)).toBe(70);

    await f.warehouseSql(`DELETE FROM items`);
    const refused = await runPipeline(p);
    expect(refused.status).toBe('failed');
    expect(refused.cause).toBeInstanceOf(MassDeleteError);
    expect(refused.error).toMatch(/would delete 70 of 70 .*rows \(100%\), more than max_delete_ratio/);
    expect(refused.error).toMatch(/nothing was written/);
    expect(refused.error).toMatch(/--allow-mass-delete/);
    expect(await count(f)).toBe(70);
    // Refused again next time: the refusal changed nothing, the snapshot included.
    expect((await runPipeline(p)).status).toBe('failed');
    expect(await count(f)).toBe(70);

    const allowed = await runPipeline(p, { allowMassDelete: true });
    expect(allowed.status).toBe('success');
    expect(allowed.counts.deleted).toBe(70);
    expect(await count(f)).toBe(0);
  });

  it('honours a stricter max_delete_ratio from the pipeline file', async () => {
    f = await openFixture(`guard_ratio_${mode}`);
    await f.warehouseSql(`CREATE TABLE items AS SELECT i::INTEGER AS id, 'n' || i AS name FROM range(1, 101) t(i)`);
    await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, name text)`);
    const p = f.pipeline({ mode, extra: 'max_delete_ratio: 0.1\n' });
    expect((await runPipeline(p)).status).toBe('success');
    await f.warehouseSql(`DELETE FROM items WHERE id > 80`);
    const refused = await runPipeline(p);
    expect(refused.status).toBe('failed');
    expect(refused.error).toMatch(/would delete 20 of 100/);
    expect(await count(f)).toBe(100);
  });
});
