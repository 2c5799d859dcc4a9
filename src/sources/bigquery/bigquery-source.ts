import type { BigQuery } from '@google-cloud/bigquery';
import { SchemaMismatchError } from '../../errors.js';
import type { Batch, Schema } from '../../types/logical-type.js';
import type { Model, ReadOptions, Source } from '../source.js';
import type { BigquerySourceConfig } from './bigquery-config.js';
import { cursorQuery, formatTableRef, parseTableRef, querySql, tableSql, type TableRef } from './bigquery-model.js';
import { dryRunSchema, getTable, queryPages, runQuery, tableDataPages, type QuerySpec, type ResultPage } from './bigquery-pages.js';
import { createBigqueryClient } from './bigquery-rest.js';
import { schemaFromFields, type BigqueryField } from './bigquery-types.js';
import { rowDecoder } from './bigquery-values.js';
import type { WarehouseDiff } from '../warehouse-diff.js';
import { bigqueryWarehouseDialect } from './bigquery-warehouse-dialect.js';
import { BigqueryWarehouseSql } from './bigquery-warehouse-sql.js';

/** Table types tabledata.list can read; views and external tables have to be queried. */
const LISTABLE_TABLE_TYPES = new Set(['TABLE', 'SNAPSHOT']);

/**
 * BigQuery over its REST API: a table model is read with tabledata.list, a query model
 * (GoogleSQL) with jobs.query + jobs.getQueryResults, one page per request, one page in
 * memory at a time.
 */
export class BigquerySource implements Source {
  readonly kind = 'bigquery';
  readonly warehouseDiff: WarehouseDiff;

  constructor(
    private readonly client: BigQuery,
    private readonly config: BigquerySourceConfig,
  ) {
    const place = { project: config.project, dataset: config.dataset, location: config.location };
    this.warehouseDiff = { dialect: bigqueryWarehouseDialect(place), sql: new BigqueryWarehouseSql(client, place) };
  }

  static async open(config: BigquerySourceConfig, baseDir: string, env: NodeJS.ProcessEnv = process.env): Promise<BigquerySource> {
    return new BigquerySource(createBigqueryClient(config, baseDir, env), config);
  }

  async describe(model: Model): Promise<Schema> {
    if ('table' in model) return schemaFromFields(await this.tableFields(this.tableRef(model.table)));
    return schemaFromFields(await dryRunSchema(this.client, this.querySpec(querySql(model.query))));
  }

  async *read(model: Model, schema: Schema, opts: ReadOptions): AsyncIterable<Batch> {
    const batchSize = opts.batchSize > 0 ? opts.batchSize : this.config.page_size;
    let decode: ReturnType<typeof rowDecoder> | undefined;
    for await (const page of await this.pages(model, schema, opts)) {
      if (!decode) {
        checkColumns(schema, page.fields);
        decode = rowDecoder(page.fields);
        if (page.totalRows !== undefined) opts.onTotal?.(page.totalRows);
      }
      const rows = decode(page.rows);
      for (let i = 0; i < rows.length; i += batchSize) {
        yield { rows: rows.length <= batchSize ? rows : rows.slice(i, i + batchSize) };
      }
    }
  }

  /** Runs a user action (`on: source`) as a GoogleSQL statement and waits for it to finish. */
  async execute(sql: string): Promise<void> {
    await runQuery(this.client, this.querySpec(sql), 1);
  }

  async close(): Promise<void> {
    // The client holds no connections of its own beyond a keep-alive agent.
  }

  private async pages(model: Model, schema: Schema, opts: ReadOptions): Promise<AsyncIterable<ResultPage>> {
    const pageSize = this.config.page_size;
    let sql: string;
    if ('table' in model) {
      const ref = this.tableRef(model.table);
      if (opts.cursor?.after === undefined) {
        const table = await getTable(this.client, ref);
        if (LISTABLE_TABLE_TYPES.has(table.type ?? 'TABLE')) {
          return tableDataPages(this.client, ref, fieldsOf(table, ref), pageSize, opts.signal);
        }
      }
      sql = tableSql(ref);
    } else {
      sql = querySql(model.query);
    }
    const spec = this.querySpec(sql);
    if (opts.cursor?.after !== undefined) {
      const filtered = cursorQuery(sql, schema, { column: opts.cursor.column, after: opts.cursor.after });
      spec.sql = filtered.sql;
      spec.parameters = filtered.parameters;
    }
    return queryPages(this.client, spec, pageSize, opts.signal);
  }

  private async tableFields(ref: TableRef): Promise<BigqueryField[]> {
    return fieldsOf(await getTable(this.client, ref), ref);
  }

  private tableRef(name: string): TableRef {
    return parseTableRef(name, this.config.project, this.config.dataset);
  }

  private querySpec(sql: string): QuerySpec {
    return {
      projectId: this.config.project,
      sql,
      location: this.config.location,
      defaultDataset: this.config.dataset ? { projectId: this.config.project, datasetId: this.config.dataset } : undefined,
    };
  }
}

function fieldsOf(table: { schema?: { fields?: BigqueryField[] } }, ref: TableRef): BigqueryField[] {
  const fields = table.schema?.fields;
  if (!fields?.length) throw new SchemaMismatchError(`bigquery source: table ${formatTableRef(ref)} has no schema`);
  return fields;
}

/** The rows must have the columns `describe` promised, in the same order. */
function checkColumns(schema: Schema, fields: BigqueryField[]): void {
  const expected = schema.columns.map((c) => c.name);
  const found = fields.map((f) => f.name);
  if (expected.length !== found.length || expected.some((name, i) => name !== found[i])) {
    throw new SchemaMismatchError(
      `bigquery source: the model's columns changed since it was described: expected (${expected.join(', ')}), found (${found.join(', ')})`,
    );
  }
}
