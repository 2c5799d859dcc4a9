import { quotedIdentifier } from '@duckdb/node-api';
import type { Pipeline } from '../config/load-pipeline.js';
import type { Value } from '../types/logical-type.js';
import { openDestination, openSource } from './connect.js';
import { planColumns } from './column-plan.js';
import { describeModel } from './run-pipeline.js';
import { openWorkspace } from '../diff/workspace.js';
import { loadBatchesIntoDuckdb } from '../diff/model-loader.js';
import { readRows } from '../diff/compute-diff.js';
import { OutflowError, SchemaMismatchError } from '../errors.js';

export interface VerifyResult {
  pipeline: string;
  modelRows: number;
  destinationRows: number;
  /** Keys in the model that the destination lacks. */
  missing: number;
  /** Keys in the destination that the model lacks. */
  extra: number;
  /** Keys in both whose mapped values differ. */
  different: number;
  samples: { missing: Value[][]; extra: Value[][]; different: Value[][] };
  /** For rows that differ: how many differ in each column. */
  differentColumns: Record<string, number>;
  equal: boolean;
}

/**
 * Compares the model with the destination table by key and mapped values, without
 * trusting the snapshot: the destination is read back (as text, parsed exactly) into the
 * workspace and joined with the model in DuckDB.
 */
export async function verifyPipeline(p: Pipeline, opts: { sampleSize?: number } = {}): Promise<VerifyResult> {
  const n = opts.sampleSize ?? 5;
  const source = await openSource(p);
  const dest = await openDestination(p, { isDryRun: true });
  let ws: Awaited<ReturnType<typeof openWorkspace>> | undefined;
  try {
    const schema = await describeModel(p, source);
    const plan = planColumns(p, schema);
    if (!dest.capabilities.readBack || !dest.readBack) {
      throw new OutflowError(
        `${dest.label}: verify cannot check this destination: ${dest.kind} cannot be read back (its capabilities say readBack: false), so there is nothing to compare the model with`,
      );
    }
    const target = dest.describe ? await dest.describe() : undefined;
    if (dest.describe && !target) throw new SchemaMismatchError(`${dest.label}: the table does not exist`);
    ws = await openWorkspace(source, p.spec.model, schema, { stateDir: p.stateDir, batchSize: p.spec.batch_size });
    const c = ws.connection;
    const q = quotedIdentifier;
    const cols = plan.columns.map((col, i) => `${q(plan.modelNames[i])} AS ${q(col.name)}`).join(', ');
    await c.run(`CREATE OR REPLACE TEMP TABLE _outflow_vm AS SELECT ${cols} FROM ${ws.relation}`);
    await loadBatchesIntoDuckdb(c, '_outflow_vd', { columns: plan.columns }, dest.readBack(plan.columns, p.spec.batch_size));
    const on = plan.keys.map((k) => `m.${q(k)} = d.${q(k)}`).join(' AND ');
    const values = plan.columns.filter((col) => !plan.keys.includes(col.name));
    const differs = values.length
      ? `row(${values.map((v) => `m.${q(v.name)}`).join(', ')}) IS DISTINCT FROM row(${values.map((v) => `d.${q(v.name)}`).join(', ')})`
      : 'false';
    const keyCols = plan.keys.map((k) => plan.columns.find((col) => col.name === k)!);
    const keySel = (alias: string) => plan.keys.map((k) => `${alias}.${q(k)}`).join(', ');
    const count = async (sql: string) => Number((await c.runAndReadAll(sql)).getRowObjects()[0].n);
    const missingSql = `FROM _outflow_vm AS m ANTI JOIN _outflow_vd AS d ON ${on}`;
    const extraSql = `FROM _outflow_vd AS d ANTI JOIN _outflow_vm AS m ON ${on}`;
    const diffSql = `FROM _outflow_vm AS m JOIN _outflow_vd AS d ON ${on} WHERE ${differs}`;
    const result: VerifyResult = {
      pipeline: p.name,
      modelRows: await count('SELECT count(*) AS n FROM _outflow_vm'),
      destinationRows: await count('SELECT count(*) AS n FROM _outflow_vd'),
      missing: await count(`SELECT count(*) AS n ${missingSql}`),
      extra: await count(`SELECT count(*) AS n ${extraSql}`),
      different: await count(`SELECT count(*) AS n ${diffSql}`),
      samples: {
        missing: await readRows(c, `SELECT ${keySel('m')} ${missingSql} LIMIT ${n}`, keyCols),
        extra: await readRows(c, `SELECT ${keySel('d')} ${extraSql} LIMIT ${n}`, keyCols),
        different: await readRows(c, `SELECT ${keySel('m')} ${diffSql} LIMIT ${n}`, keyCols),
      },
      differentColumns: {},
      equal: false,
    };
    if (result.different > 0) {
      const perColumn = (
        await c.runAndReadAll(
          `SELECT ${values.map((v, i) => `count(*) FILTER (WHERE m.${q(v.name)} IS DISTINCT FROM d.${q(v.name)}) AS c${i}`).join(', ')} ${diffSql}`,
        )
      ).getRows()[0];
      values.forEach((v, i) => {
        if (Number(perColumn[i]) > 0) result.differentColumns[v.name] = Number(perColumn[i]);
      });
    }
    result.equal = result.missing === 0 && result.extra === 0 && result.different === 0;
    await c.run('DROP TABLE IF EXISTS _outflow_vm; DROP TABLE IF EXISTS _outflow_vd');
    return result;
  } finally {
    await ws?.close();
    await dest.close();
    await source.close();
  }
}
