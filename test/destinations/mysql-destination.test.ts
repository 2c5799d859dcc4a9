import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { runPipeline, previewPipeline } from '../../src/engine/run-pipeline.js';
import { verifyPipeline } from '../../src/engine/verify.js';
import { buildCli, killHard, removeCliBuild, runCli, startPaused } from '../support/cli-process.js';
import { US_STATES_CSV, duckdbExec, tempDir, uniqueName, writeFile } from '../support/databases.js';
import { MYSQL_URL, mysqlAdmin } from '../support/source-fixtures.js';
import { TcpProxy, type Fault } from '../support/tcp-proxy.js';

/**
 * The MySQL/MariaDB destination against the local MariaDB: the reference scenario from the
 * CLI, rejected rows, a run killed mid-load, every sync mode and the type round trip.
 */
process.env.OUTFLOW_TEST_MYSQL_URL ??= MYSQL_URL;
let db: ReturnType<typeof mysqlAdmin>;
const query = async <T = Record<string, unknown>>(sql: string, params?: unknown[]) => (await db.query(sql, params)) as T[];
const tables: string[] = [];

beforeAll(() => {
  // After the build: a connection opened before it would wait out its handshake on a blocked event loop.
  buildCli();
  db = mysqlAdmin();
}, 120_000);
afterAll(async () => {
  for (const t of tables) await query(`DROP TABLE IF EXISTS ${t}`);
  await db.close();
  removeCliBuild();
});

function table(prefix: string): string {
  const t = uniqueName(prefix);
  tables.push(t, `${t}_writes`);
  return t;
}

function pipelineYaml(o: { name: string; dir: string; warehouse: string; model: string; table: string; key: string; mode: string; extra?: string; urlVar?: string }): string {
  return writeFile(
    join(o.dir, `${o.name}-${o.mode}.yaml`),
    `name: ${o.name}
source:
  type: duckdb
  path: ${o.warehouse}
model:
  table: ${o.model}
destination:
  type: mysql
  url: \${${o.urlVar ?? 'OUTFLOW_TEST_MYSQL_URL'}}
  table: ${o.table}
primary_key: ${o.key}
mode: ${o.mode}
state:
  dir: ${join(o.dir, 'state')}
${o.extra ?? ''}`,
  );
}

async function cliRun(file: string): Promise<{ status: string; counts: Record<string, number>; rejected: { key: Record<string, unknown>; column?: string; reason: string }[]; error?: string }> {
  const r = await runCli(['--json', 'run', file]);
  expect(r.stdout, r.stderr).not.toBe('');
  return JSON.parse(r.stdout);
}

describe('US-states reference scenario from the CLI into MariaDB', () => {
  const dir = tempDir();
  const warehouse = join(dir, 'warehouse.duckdb');
  const t = table('state_abbreviations');
  const file = (mode: string) => pipelineYaml({ name: 'us_states_mysql', dir, warehouse, model: 'state_abbreviations', table: t, key: 'name', mode });

  beforeAll(async () => {
    await duckdbExec(warehouse, `CREATE TABLE state_abbreviations AS SELECT * FROM read_csv('${US_STATES_CSV}')`);
    await query(`CREATE TABLE ${t} (name VARCHAR(100) NOT NULL PRIMARY KEY, abbreviation VARCHAR(100))`);
    // What MariaDB really receives, counted by triggers, independently of outflow's report.
    await query(`CREATE TABLE ${t}_writes (op VARCHAR(10), name VARCHAR(100))`);
    for (const op of ['INSERT', 'UPDATE', 'DELETE']) {
      const row = op === 'DELETE' ? 'OLD' : 'NEW';
      await query(`CREATE TRIGGER ${t}_${op.toLowerCase()} AFTER ${op} ON ${t} FOR EACH ROW INSERT INTO ${t}_writes VALUES ('${op}', ${row}.name)`);
    }
  });

  async function writes(): Promise<Record<string, number>> {
    const rows = await query<{ op: string; n: number }>(`SELECT op, count(*) AS n FROM ${t}_writes GROUP BY op`);
    await query(`DELETE FROM ${t}_writes`);
    return Object.fromEntries(rows.map((r) => [r.op, Number(r.n)]));
  }
  const count = async () => Number((await query<{ n: number }>(`SELECT count(*) AS n FROM ${t}`))[0].n);

  it('step 1: 59 rows', async () => {
    const r = await cliRun(file('insert_new'));
    expect(r.status, r.error).toBe('success');
    expect(r.counts).toMatchObject({ read: 59, added: 59, inserted: 59 });
    expect(await count()).toBe(59);
    expect(await writes()).toEqual({ INSERT: 59 });
  });

  it('step 2: exactly the one new row', async () => {
    await duckdbExec(warehouse, `INSERT INTO state_abbreviations VALUES ('Justania', 'JT')`);
    const r = await cliRun(file('insert_new'));
    expect(r.status, r.error).toBe('success');
    expect(r.counts).toMatchObject({ read: 60, added: 1, unchanged: 59, inserted: 1, sent: 1 });
    expect(await count()).toBe(60);
    expect(await writes()).toEqual({ INSERT: 1 });
  });

  it('step 3: Justania JT → JA and one insert (upsert)', async () => {
    await duckdbExec(warehouse, [`UPDATE state_abbreviations SET abbreviation = 'JA' WHERE name = 'Justania'`, `INSERT INTO state_abbreviations VALUES ('Justintucky', 'JK')`]);
    const r = await cliRun(file('upsert'));
    expect(r.status, r.error).toBe('success');
    expect(r.counts).toMatchObject({ read: 61, added: 1, changed: 1, inserted: 1, updated: 1, unchanged: 59, sent: 2 });
    expect(await query(`SELECT abbreviation FROM ${t} WHERE name = 'Justania'`)).toEqual([{ abbreviation: 'JA' }]);
    expect(await count()).toBe(61);
    expect(await writes()).toEqual({ INSERT: 1, UPDATE: 1 });
  });

  it('a full resync of unchanged rows writes nothing', async () => {
    const r = await runCli(['--json', 'run', '--full', file('upsert')]);
    const result = JSON.parse(r.stdout);
    expect(result.counts).toMatchObject({ read: 61, sent: 61, inserted: 0, updated: 0, unchanged: 61 });
    expect(await writes()).toEqual({});
  });

  it('step 4: mirror deletes the row that left the model, and verify agrees', async () => {
    await duckdbExec(warehouse, `DELETE FROM state_abbreviations WHERE name = 'Justintucky'`);
    const pv = await previewPipeline(loadPipeline(file('mirror')));
    expect(pv.planned).toMatchObject({ wouldDelete: 1, wouldInsert: 0, wouldUpdate: 0, targetRows: 61 });
    const r = await cliRun(file('mirror'));
    expect(r.status, r.error).toBe('success');
    expect(r.counts).toMatchObject({ removed: 1, deleted: 1 });
    expect(await count()).toBe(60);
    expect(await writes()).toEqual({ DELETE: 1 });
    const v = await runCli(['--json', 'verify', file('mirror')]);
    expect(JSON.parse(v.stdout)).toMatchObject({ equal: true, modelRows: 60, destinationRows: 60 });
  });
});

describe('rejected rows', () => {
  const dir = tempDir();
  const warehouse = join(dir, 'warehouse.duckdb');
  const t = table('states_short');
  const file = pipelineYaml({ name: 'states_short', dir, warehouse, model: 'states', table: t, key: 'name', mode: 'upsert' });

  it('a string too long for its column is a rejected row with key and column; the rest is delivered and it is retried next run', async () => {
    await duckdbExec(warehouse, `CREATE TABLE states AS SELECT * FROM read_csv('${US_STATES_CSV}')`);
    await duckdbExec(warehouse, `INSERT INTO states VALUES ('Justania', 'JTX')`);
    await query(`CREATE TABLE ${t} (name VARCHAR(100) NOT NULL PRIMARY KEY, abbreviation VARCHAR(2))`);
    const r = await cliRun(file);
    expect(r.status).toBe('partial');
    expect(r.counts).toMatchObject({ read: 60, rejected: 1 });
    expect(r.rejected).toEqual([expect.objectContaining({ key: { name: 'Justania' }, column: 'abbreviation' })]);
    expect(Number((await query<{ n: number }>(`SELECT count(*) AS n FROM ${t}`))[0].n)).toBe(59);
    expect(await query(`SELECT * FROM ${t} WHERE name = 'Justania'`)).toEqual([]);

    // Nothing changed in the model: the rejected row is sent again, and rejected again.
    const again = await cliRun(file);
    expect(again.counts).toMatchObject({ sent: 1, rejected: 1 });
    // Widened column: the next run delivers it.
    await query(`ALTER TABLE ${t} MODIFY abbreviation VARCHAR(3)`);
    const fixed = await cliRun(file);
    expect(fixed.status, fixed.error).toBe('success');
    expect(fixed.counts).toMatchObject({ sent: 1, inserted: 1, rejected: 0 });
    expect(await query(`SELECT abbreviation FROM ${t} WHERE name = 'Justania'`)).toEqual([{ abbreviation: 'JTX' }]);
  });

  it('values MariaDB refuses at merge (NOT NULL, another unique key) are rejected rows naming the column or key', async () => {
    const w2 = join(dir, 'w2.duckdb');
    await duckdbExec(w2, `CREATE TABLE people AS SELECT * FROM (VALUES (1, 'a@x', 'Ada'), (2, 'b@x', NULL), (3, 'c@x', 'Cy')) v(id, email, name)`);
    const p = table('people');
    await query(`CREATE TABLE ${p} (id INT PRIMARY KEY, email VARCHAR(50) NOT NULL UNIQUE, name VARCHAR(20) NOT NULL)`);
    await query(`INSERT INTO ${p} VALUES (9, 'c@x', 'Someone else')`);
    const f = pipelineYaml({ name: 'people', dir, warehouse: w2, model: 'people', table: p, key: 'id', mode: 'upsert' });
    const r = await cliRun(f);
    expect(r.counts).toMatchObject({ inserted: 1, rejected: 2 });
    const byKey = Object.fromEntries(r.rejected.map((x) => [Number(x.key.id), x]));
    expect(byKey[2]).toMatchObject({ column: 'name' });
    expect(byKey[3].reason).toMatch(/Duplicate entry 'c@x' for key 'email'/);
    // ON DUPLICATE KEY UPDATE would have overwritten row 9 through the email key: it was not touched.
    expect(await query(`SELECT id, email, name FROM ${p} ORDER BY id`)).toEqual([
      { id: 1, email: 'a@x', name: 'Ada' },
      { id: 9, email: 'c@x', name: 'Someone else' },
    ]);
  });
});

describe('a run killed mid-load converges', () => {
  const dir = tempDir();
  const warehouse = join(dir, 'warehouse.duckdb');
  const t = table('killed');
  const file = pipelineYaml({ name: 'killed', dir, warehouse, model: 'items', table: t, key: 'id', mode: 'upsert' });

  it.each(['copy', 'merge-commit'])('SIGKILL at %s, then the next run converges and verify passes', async (point) => {
    // ~5 MiB of rows: the LOAD DATA streams several chunks, so 'copy' lands mid-load.
    await duckdbExec(warehouse, [
      `CREATE OR REPLACE TABLE items AS SELECT i::INTEGER AS id, 'name ' || i || ' ' || repeat('x', 250) AS name, (i % 1000)::INTEGER AS v FROM range(1, 20001) t(i)`,
      ...(point === 'merge-commit' ? [`UPDATE items SET v = v + 1 WHERE id % 10 = 0`] : []),
    ]);
    const started = await startPaused(['run', file], point, join(dir, `pause-${point}`));
    expect(started.paused, started.result?.stderr).toBe(true);
    await killHard(started.run);
    const before = Number((await query<{ n: number }>(`SELECT count(*) AS n FROM ${t}`).catch(() => [{ n: 0 }]))[0].n);
    // Killed mid-load of the first (empty-target) run: MariaDB rolled the load back.
    if (point === 'copy') expect(before).toBe(0);
    const r = await cliRun(file);
    expect(r.status, r.error).toBe('success');
    expect(await verifyPipeline(loadPipeline(file))).toMatchObject({ equal: true, modelRows: 20000, destinationRows: 20000 });
  });
});

describe('sync modes on a composite key', () => {
  const dir = tempDir();
  const warehouse = join(dir, 'warehouse.duckdb');

  async function setup(mode: string, extra = '') {
    const t = table(`modes_${mode}`);
    await query(`CREATE TABLE ${t} (region VARCHAR(10) NOT NULL, id INT NOT NULL, v VARCHAR(20), PRIMARY KEY (region, id))`);
    await query(`INSERT INTO ${t} VALUES ('eu', 1, 'old'), ('eu', 2, 'same'), ('us', 9, 'gone')`);
    await duckdbExec(warehouse, `CREATE OR REPLACE TABLE m AS SELECT * FROM (VALUES ('eu', 1, 'new'), ('eu', 2, 'same'), ('us', 3, 'added')) v(region, id, v)`);
    const f = pipelineYaml({ name: `modes_${mode}`, dir, warehouse, model: 'm', table: t, key: '[region, id]', mode, extra: `max_delete_ratio: 1\n${extra}` });
    return { t, p: loadPipeline(f) };
  }
  const rows = (t: string) => query(`SELECT region, id, v FROM ${t} ORDER BY region, id`);

  it('insert_new adds only new keys (anti-join)', async () => {
    const { t, p } = await setup('insert_new');
    const r = await runPipeline(p);
    expect(r.counts).toMatchObject({ inserted: 1, updated: 0, unchanged: 2 });
    expect(await rows(t)).toEqual([{ region: 'eu', id: 1, v: 'old' }, { region: 'eu', id: 2, v: 'same' }, { region: 'us', id: 3, v: 'added' }, { region: 'us', id: 9, v: 'gone' }]);
  });

  it('upsert inserts, updates what differs, leaves the rest', async () => {
    const { t, p } = await setup('upsert');
    const r = await runPipeline(p);
    expect(r.counts).toMatchObject({ inserted: 1, updated: 1, unchanged: 1 });
    expect(await rows(t)).toEqual([{ region: 'eu', id: 1, v: 'new' }, { region: 'eu', id: 2, v: 'same' }, { region: 'us', id: 3, v: 'added' }, { region: 'us', id: 9, v: 'gone' }]);
  });

  it('update changes existing keys only', async () => {
    const { t, p } = await setup('update');
    const r = await runPipeline(p);
    expect(r.counts).toMatchObject({ inserted: 0, updated: 1, unchanged: 2 });
    expect(await rows(t)).toEqual([{ region: 'eu', id: 1, v: 'new' }, { region: 'eu', id: 2, v: 'same' }, { region: 'us', id: 9, v: 'gone' }]);
  });

  it('mirror deletes what the model lacks', async () => {
    const { t, p } = await setup('mirror');
    const r = await runPipeline(p);
    expect(r.counts).toMatchObject({ inserted: 1, updated: 1, deleted: 1 });
    expect(await rows(t)).toEqual([{ region: 'eu', id: 1, v: 'new' }, { region: 'eu', id: 2, v: 'same' }, { region: 'us', id: 3, v: 'added' }]);
  });

  it('replace swaps the contents in one transaction', async () => {
    const { t, p } = await setup('replace');
    const r = await runPipeline(p);
    expect(r.status, r.error).toBe('success');
    expect(r.counts).toMatchObject({ inserted: 3, deleted: 3 });
    expect(await rows(t)).toEqual([{ region: 'eu', id: 1, v: 'new' }, { region: 'eu', id: 2, v: 'same' }, { region: 'us', id: 3, v: 'added' }]);
  });

  it('insert on an existing key fails the run naming the key, nothing written', async () => {
    const { t, p } = await setup('insert');
    const r = await runPipeline(p);
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/Duplicate entry 'eu-1' for key 'PRIMARY'/);
    expect(await rows(t)).toEqual([{ region: 'eu', id: 1, v: 'old' }, { region: 'eu', id: 2, v: 'same' }, { region: 'us', id: 9, v: 'gone' }]);
  });
});

describe('types: create_table from the model, values back exactly', () => {
  it('round-trips decimals, big integers, instants, dates, JSON, UUIDs, bytes, booleans, doubles and text', async () => {
    const dir = tempDir();
    const warehouse = join(dir, 'warehouse.duckdb');
    const t = table('types');
    await duckdbExec(warehouse, `CREATE TABLE v AS SELECT * FROM (VALUES
      (1, 12345678901234.56::DECIMAL(18,2), 9223372036854775807::BIGINT, TIMESTAMPTZ '2024-03-01 12:34:56.123456+00', TIMESTAMP '1999-12-31 23:59:59.999999',
        DATE '2024-02-29', '{"a": [1, 2.5, "x"], "b": null}'::JSON, '4b6f1f9e-5c1e-4a4f-9f0e-3a2b1c0d9e8f'::UUID, '\\x00\\xFF\\x0A\\x09\\x5C'::BLOB, true,
        0.1::DOUBLE, 'tab\there, newline\nthere, back\\slash, ünïcødé 🎉', TIME '12:00:00.5'),
      (2, -0.01, -9223372036854775808, TIMESTAMPTZ '1970-01-01 00:00:00+00', TIMESTAMP '2038-01-19 03:14:08', DATE '1000-01-01', '[]'::JSON, NULL, ''::BLOB, false,
        1.7976931348623157e308, '', TIME '00:00:00'),
      (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
    ) x(id, d, big, ts, dt, day, j, u, b, flag, dbl, txt, tm)`);
    const file = pipelineYaml({ name: 'types', dir, warehouse, model: 'v', table: t, key: 'id', mode: 'upsert' });
    const r = await runPipeline(loadPipeline(file));
    expect(r.status, r.error).toBe('success');
    const cols = await query<{ COLUMN_NAME: string; COLUMN_TYPE: string }>(
      `SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [t],
    );
    expect(Object.fromEntries(cols.map((c) => [c.COLUMN_NAME, c.COLUMN_TYPE]))).toMatchObject({
      d: 'decimal(18,2)', big: 'bigint(20)', ts: 'datetime(6)', dt: 'datetime(6)', day: 'date', j: 'longtext', u: 'char(36)', b: 'longblob', flag: 'tinyint(1)', dbl: 'double', txt: 'longtext', tm: 'time(6)',
    });
    const [row] = await query(`SELECT CAST(d AS CHAR) AS d, CAST(big AS CHAR) AS big, CAST(ts AS CHAR) AS ts, HEX(b) AS b, flag, CAST(j AS CHAR) AS j, u, txt FROM ${t} WHERE id = 1`);
    expect(row).toEqual({
      d: '12345678901234.56', big: '9223372036854775807', ts: '2024-03-01 12:34:56.123456', b: '00FF0A095C', flag: 1, j: '{"a":[1,2.5,"x"],"b":null}',
      u: '4b6f1f9e-5c1e-4a4f-9f0e-3a2b1c0d9e8f', txt: 'tab\there, newline\nthere, back\\slash, ünïcødé 🎉',
    });
    const verified = await verifyPipeline(loadPipeline(file));
    expect(verified.differentColumns).toEqual({});
    expect(verified).toMatchObject({ equal: true, modelRows: 3, destinationRows: 3 });
    // A second run finds nothing to send; a forced full resync finds every row unchanged.
    const again = await runPipeline(loadPipeline(file), { full: true });
    expect(again.counts).toMatchObject({ sent: 3, updated: 0, inserted: 0, unchanged: 3 });
  });

  it('BIGINT UNSIGNED is read back exactly; a negative value is a rejected row, not a zero', async () => {
    const dir = tempDir();
    const warehouse = join(dir, 'warehouse.duckdb');
    const t = table('unsigned');
    await query(`CREATE TABLE ${t} (id INT PRIMARY KEY, n BIGINT UNSIGNED, ts TIMESTAMP(6) NULL)`);
    await duckdbExec(warehouse, `CREATE TABLE u AS SELECT * FROM (VALUES (1, 18446744073709551615::DECIMAL(20,0), TIMESTAMPTZ '2030-05-06 07:08:09.5+02'), (2, -1::DECIMAL(20,0), NULL)) x(id, n, ts)`);
    const file = pipelineYaml({ name: 'unsigned', dir, warehouse, model: 'u', table: t, key: 'id', mode: 'upsert' });
    const r = await runPipeline(loadPipeline(file));
    expect(r.counts).toMatchObject({ inserted: 1, rejected: 1 });
    expect(r.rejected[0]).toMatchObject({ key: { id: 2 }, column: 'n' });
    expect(await query(`SELECT CAST(n AS CHAR) AS n, CAST(ts AS CHAR) AS ts FROM ${t}`)).toEqual([{ n: '18446744073709551615', ts: '2030-05-06 05:08:09.500000' }]);
    const v = await verifyPipeline(loadPipeline(file));
    expect(v).toMatchObject({ missing: 1, different: 0, extra: 0 });
  });
});

describe('faults: a lost or silent MariaDB connection is retried and the run converges', () => {
  const dir = tempDir();
  const warehouse = join(dir, 'warehouse.duckdb');
  const t = table('faults');
  let proxy: TcpProxy;
  let file: string;

  beforeAll(async () => {
    const u = new URL(MYSQL_URL);
    proxy = await TcpProxy.start({ host: u.hostname, port: Number(u.port || 3306) });
    process.env.OUTFLOW_TEST_MYSQL_PROXY_URL = proxy.urlFor(MYSQL_URL);
    await duckdbExec(warehouse, `CREATE TABLE items AS SELECT i::INTEGER AS id, 'name ' || i || ' ' || repeat('x', 250) AS name, (i % 1000)::INTEGER AS v FROM range(1, 20001) t(i)`);
    const extra = 'retry:\n  attempts: 5\n  initial_delay: 50ms\n  max_delay: 400ms\ntimeouts:\n  connect: 2s\n  statement: 3s\n';
    file = pipelineYaml({ name: 'faults', dir, warehouse, model: 'items', table: t, key: 'id', mode: 'upsert', extra, urlVar: 'OUTFLOW_TEST_MYSQL_PROXY_URL' });
  });
  afterAll(async () => {
    await proxy.close();
  });

  async function runUnder(fault: Fault, change?: string) {
    if (change) await duckdbExec(warehouse, change);
    proxy.inject(fault);
    const r = await runPipeline(loadPipeline(file));
    proxy.clear();
    expect(r.status, r.error).toBe('success');
    expect(proxy.fired).toBeGreaterThan(0);
    expect(r.stages.filter((s) => s.stage.startsWith('retry ')).length).toBeGreaterThanOrEqual(1);
    expect(await verifyPipeline(loadPipeline(file))).toMatchObject({ equal: true, missing: 0, extra: 0, different: 0 });
    return r;
  }

  it('connection cut mid-LOAD DATA of the first full load', async () => {
    const r = await runUnder({ kind: 'cut-after-bytes', bytes: 2 << 20 });
    expect(r.counts.inserted).toBe(20000);
  });

  it('connection cut just before the merge statement reaches the server', async () => {
    const r = await runUnder({ kind: 'cut-on', pattern: 'ON DUPLICATE KEY', when: 'before' }, `UPDATE items SET v = v + 1 WHERE id % 3 = 0`);
    expect(r.counts.updated).toBeGreaterThan(6000);
  });

  it('server stops answering during the merge', async () => {
    await runUnder({ kind: 'stall-on', pattern: 'ON DUPLICATE KEY' }, `UPDATE items SET v = v + 1 WHERE id % 5 = 0`);
  });
});
