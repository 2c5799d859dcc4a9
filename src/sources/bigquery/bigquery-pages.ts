import { randomUUID } from 'node:crypto';
import type { BigQuery } from '@google-cloud/bigquery';
import { CancelledError, ModelError } from '../../errors.js';
import { callBigquery } from './bigquery-rest.js';
import { redact } from '../../config/redact.js';
import { formatTableRef, type QueryParameter, type TableRef } from './bigquery-model.js';
import type { BigqueryField, BigqueryRow } from './bigquery-types.js';

/** One REST page: the result's columns and up to maxResults rows in f/v form. */
export interface ResultPage {
  fields: BigqueryField[];
  rows: BigqueryRow[];
  /** The whole result's row count, as BigQuery reports it with each page (a string int64). */
  totalRows?: number;
}

/** Timestamps as int64 microseconds, so no value passes through a double. */
const INT64_TIMESTAMPS = { 'formatOptions.useInt64Timestamp': true } as const;
/** How long jobs.query and jobs.getQueryResults may hold the request open waiting for the job. */
const SERVER_WAIT_MS = 10_000;

export interface TableResource {
  type?: string; // TABLE, VIEW, MATERIALIZED_VIEW, EXTERNAL, SNAPSHOT
  schema?: { fields?: BigqueryField[] };
  numRows?: string;
}

export function getTable(client: BigQuery, ref: TableRef): Promise<TableResource> {
  return callBigquery<TableResource>(
    client,
    { method: 'GET', projectId: ref.projectId, uri: `/datasets/${enc(ref.datasetId)}/tables/${enc(ref.tableId)}` },
    `reading table ${formatTableRef(ref)}`,
  );
}

interface TableDataList {
  totalRows?: string;
  pageToken?: string;
  rows?: BigqueryRow[];
}

/** tabledata.list, page by page: only plain tables and snapshots can be listed this way. */
export async function* tableDataPages(
  client: BigQuery,
  ref: TableRef,
  fields: BigqueryField[],
  pageSize: number,
  signal?: AbortSignal,
): AsyncGenerator<ResultPage> {
  let pageToken: string | undefined;
  do {
    throwIfAborted(signal);
    const page = await callBigquery<TableDataList>(
      client,
      {
        method: 'GET',
        projectId: ref.projectId,
        uri: `/datasets/${enc(ref.datasetId)}/tables/${enc(ref.tableId)}/data`,
        qs: { maxResults: pageSize, pageToken, ...INT64_TIMESTAMPS },
      },
      `reading rows of table ${formatTableRef(ref)}`,
    );
    yield { fields, rows: page.rows ?? [], totalRows: rowCount(page.totalRows) };
    pageToken = page.pageToken;
  } while (pageToken);
}

export interface QuerySpec {
  projectId: string;
  sql: string;
  location?: string;
  defaultDataset?: { projectId: string; datasetId: string };
  parameters?: QueryParameter[];
}

interface JobReference {
  projectId: string;
  jobId: string;
  location?: string;
}

interface QueryResponse {
  jobReference?: JobReference;
  jobComplete?: boolean;
  schema?: { fields?: BigqueryField[] };
  totalRows?: string;
  pageToken?: string;
  rows?: BigqueryRow[];
}

/**
 * jobs.query, then jobs.getQueryResults while `jobComplete` is false, then one
 * getQueryResults per pageToken. The first page may come with the jobs.query answer.
 */
export async function* queryPages(client: BigQuery, spec: QuerySpec, pageSize: number, signal?: AbortSignal): AsyncGenerator<ResultPage> {
  const { job, first } = await runQuery(client, spec, pageSize, signal);
  const fields = first.schema?.fields ?? [];
  yield { fields, rows: first.rows ?? [], totalRows: rowCount(first.totalRows) };
  let pageToken = first.pageToken;
  while (pageToken) {
    throwIfAborted(signal);
    const page = await getQueryResults(client, job, { maxResults: pageSize, pageToken });
    yield { fields, rows: page.rows ?? [] };
    pageToken = page.pageToken;
  }
}

/** Starts a query and waits for it; returns the job and its first (complete) response. */
export async function runQuery(
  client: BigQuery,
  spec: QuerySpec,
  pageSize: number,
  signal?: AbortSignal,
): Promise<{ job: JobReference; first: QueryResponse }> {
  throwIfAborted(signal);
  let response = await callBigquery<QueryResponse>(
    client,
    {
      method: 'POST',
      projectId: spec.projectId,
      uri: '/queries',
      json: {
        query: spec.sql,
        useLegacySql: false,
        maxResults: pageSize,
        timeoutMs: SERVER_WAIT_MS,
        location: spec.location,
        defaultDataset: spec.defaultDataset,
        formatOptions: { useInt64Timestamp: true },
        ...(spec.parameters ? { parameterMode: 'NAMED', queryParameters: spec.parameters } : {}),
        // Makes jobs.query idempotent, so the client retrying this POST after a 503 cannot start a second job.
        requestId: randomUUID(),
      },
    },
    'running the model query',
  );
  const job = response.jobReference;
  if (!job) throw new ModelError('bigquery source: running the model query: the response carries no jobReference');
  for (let poll = 0; !response.jobComplete; poll++) {
    if (signal?.aborted) {
      await cancelJob(client, job);
      throwIfAborted(signal);
    }
    // The server already waits up to timeoutMs; this pause only spaces out early answers.
    await sleep(Math.min(100 * 2 ** poll, 1_000));
    response = await getQueryResults(client, job, { maxResults: pageSize, timeoutMs: SERVER_WAIT_MS });
  }
  return { job, first: response };
}

function getQueryResults(
  client: BigQuery,
  job: JobReference,
  qs: { maxResults: number; pageToken?: string; timeoutMs?: number },
): Promise<QueryResponse> {
  return callBigquery<QueryResponse>(
    client,
    { method: 'GET', projectId: job.projectId, uri: `/queries/${enc(job.jobId)}`, qs: { ...qs, location: job.location, ...INT64_TIMESTAMPS } },
    `reading results of query job ${job.jobId}`,
  );
}

/** A job's status: a failed job still answers HTTP 200, with the failure in errorResult. */
interface JobStatus {
  state?: string;
  errorResult?: { reason?: string; location?: string; message?: string };
}

interface DryRunJob {
  status?: JobStatus;
  statistics?: { query?: { schema?: { fields?: BigqueryField[] } } };
}

/**
 * A dry run (jobs.insert with dryRun): BigQuery validates the query and returns its result
 * schema in statistics.query.schema, without running it, reading rows or billing bytes.
 */
export async function dryRunSchema(client: BigQuery, spec: QuerySpec): Promise<BigqueryField[]> {
  const job = await callBigquery<DryRunJob>(
    client,
    {
      method: 'POST',
      projectId: spec.projectId,
      uri: '/jobs',
      json: {
        jobReference: { projectId: spec.projectId, location: spec.location },
        configuration: {
          dryRun: true,
          query: { query: spec.sql, useLegacySql: false, defaultDataset: spec.defaultDataset },
        },
      },
    },
    'describing the model query (dry run)',
  );
  const failure = job.status?.errorResult;
  if (failure) {
    // BigQuery's own words: "Unrecognized name: foo at [1:8]", "Not found: Table …".
    const where = failure.location ? ` at ${failure.location}` : '';
    throw new ModelError(redact(`bigquery source: describing the model query (dry run): ${failure.message ?? 'the job failed'}${failure.reason ? ` (${failure.reason}${where})` : ''}`));
  }
  const fields = job.statistics?.query?.schema?.fields;
  if (!fields) throw new ModelError('bigquery source: the model query returns no result set (the dry run reported no schema)');
  return fields;
}

/** Best effort: an abandoned query should not keep running (and billing) in BigQuery. */
async function cancelJob(client: BigQuery, job: JobReference): Promise<void> {
  try {
    await callBigquery(
      client,
      { method: 'POST', projectId: job.projectId, uri: `/jobs/${enc(job.jobId)}/cancel`, qs: { location: job.location } },
      `cancelling query job ${job.jobId}`,
    );
  } catch {
    // the read is being abandoned anyway
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError('bigquery source: the read was cancelled');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function rowCount(totalRows: string | undefined): number | undefined {
  const n = totalRows === undefined ? NaN : Number(totalRows);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}
