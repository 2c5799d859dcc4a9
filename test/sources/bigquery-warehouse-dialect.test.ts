import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bigqueryWarehouseDialect } from '../../src/sources/bigquery/bigquery-warehouse-dialect.js';
import { schemaFromFields } from '../../src/sources/bigquery/bigquery-types.js';
import type { Statement, WarehouseDiffSpec } from '../../src/sources/warehouse-diff.js';
import type { Model } from '../../src/sources/source.js';
import { TYPES_FIELDS } from './bigquery-type-cases.js';
import { BigquerySource } from '../../src/sources/bigquery/bigquery-source.js';
import { bigquerySourceConfig } from '../../src/sources/bigquery/bigquery-config.js';
import { advancePartition, advanceRules, computeWarehouseDiff, finishWarehouseDiff, loadPartition, openWarehouseState, refusedRows } from '../../src/diff/warehouse-diff.js';
import { uniqueName } from '../support/databases.js';

/**
 * The BigQuery warehouse diff's SQL, held against golden text (test/sources/golden/): a
 * composite key of three types (INT64, STRING, DATE) and a column of every type the
 * BigQuery source maps (bigquery-type-cases.ts, plus INTERVAL and a renamed column).
 * BigQuery cannot run here; the live suite (OUTFLOW_BIGQUERY_LIVE=1) runs the same SQL.
 * After a deliberate change, regenerate with OUTFLOW_UPDATE_GOLDEN=1 and read the diff.
 */
const GOLDEN = join(__dirname, 'golden');
const place = { project: 'outflow-test', dataset: 'warehouse', location: 'EU' };

function spec(model: Model, partitions: number): WarehouseDiffSpec {
  const typed = schemaFromFields([
    { name: 'cust_id', type: 'INTEGER', mode: 'REQUIRED' },
    { name: 'region', type: 'STRING', mode: 'REQUIRED' },
    { name: 'day', type: 'DATE', mode: 'REQUIRED' },
    ...TYPES_FIELDS,
    { name: 'tenure', type: 'INTERVAL', mode: 'NULLABLE' },
  ]).columns;
  const rename: Record<string, string> = { cust_id: 'customer_id', float_val: 'score' };
  return {
    model,
    stateSchema: 'outflow_state',
    stateName: 'customers_sync',
    modelNames: typed.map((c) => c.name),
    columns: typed.map((c) => ({ ...c, name: rename[c.name] ?? c.name })),
    keys: ['customer_id', 'region', 'day'],
    partitions,
  };
}

/** Every statement of a run, in run order, each under a heading naming the dialect method. */
function script(s: WarehouseDiffSpec): string {
  const d = bigqueryWarehouseDialect(place);
  const parts: [string, Statement[]][] = [
    ['ensureState', d.ensureState(s)],
    ['readMeta', [d.readMeta(s)]],
    ['writeMeta(null)', d.writeMeta(s, null)],
    ['diff (full)', d.diff(s, { isFull: true })],
    ['diff (incremental)', d.diff(s, { isFull: false })],
    ['pendingCounts', [d.pendingCounts(s)]],
    ['pendingKeyProblems', [d.pendingKeyProblems(s)]],
    ['duplicateKeys', [d.duplicateKeys(s)]],
    ['resetSnapshot', d.resetSnapshot(s)],
    ['readPartition(2, mirror)', [d.readPartition(s, 2, ['a', 'c', 'r'])]],
    ['advance(2, upsert)', d.advance(s, { part: 2, sentKinds: ['a', 'c'], forgetRemoved: true, rejected: [4, 9], rejectedRemoved: [] })],
    ['advance(0, insert)', d.advance(s, { part: 0, sentKinds: ['a'], forgetRemoved: false, rejected: [], rejectedRemoved: [] })],
    ['writeMeta', d.writeMeta(s, 'fp')],
    ['dropPending', d.dropPending(s)],
  ];
  return parts
    .map(([name, stmts]) => stmts.map((st) => `-- ${name}${st.params ? ` params: ${JSON.stringify(st.params)}` : ''}\n${st.sql};\n`).join('\n'))
    .join('\n');
}

describe('bigquery warehouse diff SQL', () => {
  it.each([
    ['table-model.sql', spec({ table: 'customers' }, 8)],
    ['query-model.sql', spec({ query: 'SELECT * FROM `outflow-test.warehouse.customers` WHERE active;' }, 1)],
  ])('%s matches its golden text', (file, s) => {
    const text = script(s);
    const path = join(GOLDEN, `bigquery-warehouse-diff-${file}`);
    if (process.env.OUTFLOW_UPDATE_GOLDEN === '1') writeFileSync(path, text);
    expect(text).toBe(readFileSync(path, 'utf8'));
  });

  it('hashes every mapped column, in order, through one JSON text, and partitions by the key alone', () => {
    const s = spec({ table: 'customers' }, 8);
    const diff = bigqueryWarehouseDialect(place).diff(s, { isFull: false })[0].sql;
    const hashed = /FARM_FINGERPRINT\(TO_JSON_STRING\(STRUCT\((.*?)\)\)\) AS _outflow_h/.exec(diff)?.[1].split(', ');
    expect(hashed).toEqual(s.modelNames.map((n) => `model.\`${n}\``));
    expect(diff).toContain('ABS(MOD(FARM_FINGERPRINT(TO_JSON_STRING(STRUCT(`customer_id`, `region`, `day`))), 8))');
    expect(diff).toContain('FROM `outflow-test`.`warehouse`.`customers` AS model');
  });
});

const LIVE = process.env.OUTFLOW_BIGQUERY_LIVE === '1';

/**
 * The same SQL on real BigQuery (opt-in, as in bigquery.test.ts): a 100-row table with a
 * composite key, a full run, a change, an incremental run that finds exactly the change.
 */
describe.skipIf(!LIVE)('bigquery warehouse diff against real BigQuery', () => {
  let source: BigquerySource;
  let ws: DuckDBConnection;
  let instance: DuckDBInstance;
  const dataset = uniqueName('outflow_wh_model');
  const stateSchema = uniqueName('outflow_wh_state');

  beforeAll(async () => {
    const project = process.env.OUTFLOW_BIGQUERY_PROJECT;
    if (!project) throw new Error('OUTFLOW_BIGQUERY_LIVE=1 needs OUTFLOW_BIGQUERY_PROJECT');
    const config = bigquerySourceConfig.parse({ type: 'bigquery', project, location: process.env.OUTFLOW_BIGQUERY_LOCATION, key_file: process.env.GOOGLE_APPLICATION_CREDENTIALS });
    source = await BigquerySource.open(config, process.cwd());
    await source.execute(`CREATE SCHEMA \`${project}.${dataset}\``);
    await source.execute(
      `CREATE TABLE \`${project}.${dataset}.items\` AS SELECT DIV(i, 10) AS a, CONCAT('k', CAST(MOD(i, 10) AS STRING)) AS b, i AS v, DATE_ADD(DATE '2024-01-01', INTERVAL i DAY) AS d, JSON_OBJECT('i', i) AS j FROM UNNEST(GENERATE_ARRAY(0, 99)) AS i`,
    );
    instance = await DuckDBInstance.create(':memory:');
    ws = await instance.connect();
  }, 120_000);

  afterAll(async () => {
    ws?.closeSync();
    instance?.closeSync();
    const project = process.env.OUTFLOW_BIGQUERY_PROJECT;
    await source?.execute(`DROP SCHEMA IF EXISTS \`${project}.${dataset}\` CASCADE`);
    await source?.execute(`DROP SCHEMA IF EXISTS \`${project}.${stateSchema}\` CASCADE`);
  }, 120_000);

  it('diffs, delivers by partition and advances the snapshot in the warehouse', async () => {
    const s: WarehouseDiffSpec = {
      model: { table: `${dataset}.items` },
      stateSchema,
      stateName: 'items_sync',
      modelNames: ['a', 'b', 'v', 'd', 'j'],
      columns: (await source.describe({ table: `${dataset}.items` })).columns,
      keys: ['a', 'b'],
      partitions: 2,
    };
    const wd = source.warehouseDiff;
    const rules = advanceRules('upsert');
    const deliver = async () => {
      for (let part = 0; part < s.partitions; part++) {
        await loadPartition(wd, s, ws, part, { sentKinds: rules.sentKinds, isMirror: false, batchSize: 1000 });
        await advancePartition(wd, s, { part, ...rules, ...(await refusedRows(ws)) });
      }
    };
    await openWarehouseState(wd, s);
    expect(await computeWarehouseDiff(wd, s, { isFull: true, hadFingerprint: false })).toMatchObject({ read: 100, added: 100 });
    await deliver();
    await finishWarehouseDiff(wd, s, 'fp');
    await source.execute(`UPDATE \`${process.env.OUTFLOW_BIGQUERY_PROJECT}.${dataset}.items\` SET v = -v WHERE a = 3`);
    expect(await computeWarehouseDiff(wd, s, { isFull: false, hadFingerprint: true })).toMatchObject({ read: 100, added: 0, changed: 10, removed: 0 });
    await deliver();
    await finishWarehouseDiff(wd, s, 'fp');
    expect(await computeWarehouseDiff(wd, s, { isFull: false, hadFingerprint: true })).toMatchObject({ added: 0, changed: 0, removed: 0 });
  }, 300_000);
});
