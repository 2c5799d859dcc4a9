import { afterEach, describe, expect, it } from 'vitest';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { verifyPipeline } from '../../src/engine/verify.js';
import { verifyCommand } from '../../src/cli/verify-command.js';
import { openFixture, sameRows, type Fixture } from '../support/change-fixture.js';
import { callCommand } from '../support/command-output.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

describe('verify on postgres', () => {
  it('detects a row deleted, a row altered and a row added behind outflow’s back; --full repairs them', async () => {
    f = await openFixture('verify');
    await f.warehouseSql(`CREATE TABLE items AS SELECT i::INTEGER AS id, 'n' || i AS name, i * 10 AS v FROM range(1, 201) t(i)`);
    await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, name text, v bigint)`);
    const file = f.pipelineFile({ mode: 'mirror' });
    const p = f.pipeline({ mode: 'mirror' });
    expect((await runPipeline(p)).status).toBe('success');

    const clean = await callCommand(verifyCommand, [file], { rows: '5' });
    expect(clean.code).toBe(0);
    expect(clean.out).toContain('missing 0 · extra 0 · different 0');
    expect(clean.out).toMatch(/^equal$/m);

    // Someone edits the table directly.
    await f.query(`DELETE FROM "${f.table}" WHERE id = 17`);
    await f.query(`UPDATE "${f.table}" SET name = 'tampered' WHERE id = 42`);
    await f.query(`INSERT INTO "${f.table}" VALUES (9999, 'intruder', 0)`);

    const v = await verifyPipeline(p);
    expect(v).toMatchObject({ modelRows: 200, destinationRows: 200, missing: 1, extra: 1, different: 1, equal: false });
    expect(v.samples).toEqual({ missing: [[17]], extra: [[9999]], different: [[42]] });

    const cli = await callCommand(verifyCommand, [file], { rows: '5' });
    expect(cli.code).not.toBe(0);
    expect(cli.out).toContain('missing 1 · extra 1 · different 1');
    expect(cli.out).toContain('missing: 17');
    expect(cli.out).toContain('extra: 9999');
    expect(cli.out).toContain('different: 42');
    expect(cli.out).toMatch(/^NOT equal$/m);

    // The snapshot still says all was delivered, so an ordinary run sends nothing…
    const quiet = await runPipeline(p);
    expect(quiet.counts).toMatchObject({ sent: 0, deleted: 0 });
    expect((await verifyPipeline(p)).equal).toBe(false);
    // …and --full, which ignores the snapshot, repairs all three.
    const full = await runPipeline(p, { full: true });
    expect(full.status).toBe('success');
    expect(full.syncKind).toBe('full');
    expect(full.counts).toMatchObject({ inserted: 1, updated: 1, deleted: 1 });
    expect(await verifyPipeline(p)).toMatchObject({ equal: true, missing: 0, extra: 0, different: 0 });
    const rows = await sameRows(f);
    expect(rows.target).toEqual(rows.model);
  });
});

describe('changing the mapping on postgres', () => {
  it('starts a full resync that rewrites the remapped column', async () => {
    f = await openFixture('remap');
    await f.warehouseSql(`CREATE TABLE items AS SELECT i::INTEGER AS id, 'name ' || i AS name, 'nick ' || i AS nickname, i AS v FROM range(1, 101) t(i)`);
    await f.query(`CREATE TABLE "${f.table}" (id integer PRIMARY KEY, label text, v integer)`);
    const byName = { id: 'id', name: 'label', v: 'v' };
    const r1 = await runPipeline(f.pipeline({ mode: 'upsert', mapping: byName }));
    expect(r1.status).toBe('success');
    expect(r1.syncKind).toBe('full');
    const r2 = await runPipeline(f.pipeline({ mode: 'upsert', mapping: byName }));
    expect(r2).toMatchObject({ syncKind: 'incremental', counts: { sent: 0, unchanged: 100 } });

    // Same destination columns, but label now comes from another model column.
    const p = f.pipeline({ mode: 'upsert', mapping: { id: 'id', nickname: 'label', v: 'v' } });
    const r3 = await runPipeline(p);
    expect(r3.status).toBe('success');
    expect(r3.syncKind).toBe('full');
    expect(r3.fullReason).toMatch(/mapping/);
    expect(r3.counts).toMatchObject({ read: 100, sent: 100, updated: 100 });
    expect(await f.query(`SELECT count(*)::int AS n FROM "${f.table}" WHERE label LIKE 'nick %'`)).toEqual([{ n: 100 }]);
    expect((await verifyPipeline(p)).equal).toBe(true);
    const r4 = await runPipeline(p);
    expect(r4).toMatchObject({ syncKind: 'incremental', counts: { sent: 0 } });
  });
});
