import type { BigQuery } from '@google-cloud/bigquery';
import type { Batch, Schema } from '../../types/logical-type.js';
import { StateAccessError } from '../../errors.js';
import type { Statement, StatementParam, WarehouseDiffSpec, WarehouseSql } from '../warehouse-diff.js';
import { queryPages, runQuery, type QuerySpec } from './bigquery-pages.js';
import type { QueryParameter } from './bigquery-model.js';
import { rowDecoder } from './bigquery-values.js';
import { errorInfo } from './bigquery-errors.js';
import type { BigqueryPlace } from './bigquery-warehouse-dialect.js';

/** Rows per page when reading a partition or a small result. */
const PAGE_ROWS = 10_000;

/**
 * Runs the warehouse diff's statements as BigQuery query jobs (jobs.query, waiting for
 * each). Parameters are named @p1, @p2… by position: INT64, STRING, or ARRAY<INT64>.
 */
export class BigqueryWarehouseSql implements WarehouseSql {
  constructor(
    private readonly client: BigQuery,
    private readonly place: BigqueryPlace,
  ) {}

  stateLabel(spec: WarehouseDiffSpec): string {
    return `bigquery dataset ${this.place.project}.${spec.stateSchema}`;
  }

  async run(statements: Statement[]): Promise<void> {
    // Each statement the dialect asks to be atomic is one statement (MERGE, CREATE OR REPLACE).
    for (const s of statements) await runQuery(this.client, this.spec(s), 1);
  }

  async rows(statements: Statement[]): Promise<Record<string, unknown>[]> {
    await this.run(statements.slice(0, -1));
    const out: Record<string, unknown>[] = [];
    for await (const page of queryPages(this.client, this.spec(statements[statements.length - 1]), PAGE_ROWS)) {
      const names = page.fields.map((f) => f.name.toLowerCase());
      for (const row of rowDecoder(page.fields)(page.rows)) out.push(Object.fromEntries(names.map((n, i) => [n, row[i]])));
    }
    return out;
  }

  // The result's own schema decodes the values: its columns are the pending table's, which `schema` describes.
  async *stream(statement: Statement, _schema: Schema, batchSize: number, signal?: AbortSignal): AsyncIterable<Batch> {
    for await (const page of queryPages(this.client, this.spec(statement), Math.min(batchSize, PAGE_ROWS), signal)) {
      const rows = rowDecoder(page.fields)(page.rows);
      if (rows.length) yield { rows };
    }
  }

  stateAccessError(e: unknown, spec: WarehouseDiffSpec): Error | undefined {
    const info = errorInfo((e as { cause?: unknown }).cause ?? e);
    const message = (e as Error).message ?? '';
    if (info.code !== 403 && !/HTTP 403|accessDenied|permission/i.test(message)) return undefined;
    return new StateAccessError(
      `bigquery source: diff: warehouse keeps its snapshot in dataset ${this.place.project}.${spec.stateSchema}, and the credentials may not create it or its tables (${message}); ` +
        `grant bigquery.datasets.create on project ${this.place.project} (or create the dataset) and roles/bigquery.dataEditor on the dataset`,
      { cause: e },
    );
  }

  private spec(s: Statement): QuerySpec {
    return {
      projectId: this.place.project,
      sql: s.sql,
      location: this.place.location,
      parameters: s.params?.map((p, i) => parameter(`p${i + 1}`, p)) as QueryParameter[] | undefined,
    };
  }
}

function parameter(name: string, p: StatementParam): unknown {
  if (Array.isArray(p)) {
    return { name, parameterType: { type: 'ARRAY', arrayType: { type: 'INT64' } }, parameterValue: { arrayValues: p.map((n) => ({ value: String(n) })) } };
  }
  if (typeof p === 'number') return { name, parameterType: { type: 'INT64' }, parameterValue: { value: String(p) } };
  return { name, parameterType: { type: 'STRING' }, parameterValue: p === null ? {} : { value: p } };
}
