/**
 * A local stand-in for the BigQuery v2 REST API on 127.0.0.1 (random port). It serves canned
 * result sets keyed by table name or by the exact SQL text, in BigQuery's response shapes,
 * following the real request sequence (tables.get, tabledata.list, jobs.query answering
 * jobComplete:false, jobs.getQueryResults polled then paged by pageToken, dry-run jobs.insert).
 * It does not run GoogleSQL: unknown SQL is a 400 invalidQuery. Every request is logged, and
 * faults (503 on page N, 403 accessDenied…) can be injected.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readBody } from './read-body.js';
import type { AddressInfo } from 'node:net';
import {
  decodePageToken,
  encodePageToken,
  encodeRow,
  errorEnvelope,
  type BigqueryField,
  type WireValue,
} from './bigquery-fake-wire.js';

export interface CannedTable {
  fields: BigqueryField[];
  rows: WireValue[][];
  /** tabledata.list refuses anything but TABLE / SNAPSHOT, as BigQuery does. */
  type?: 'TABLE' | 'VIEW' | 'MATERIALIZED_VIEW' | 'EXTERNAL' | 'SNAPSHOT';
}

export interface CannedQuery {
  fields: BigqueryField[];
  rows: WireValue[][];
  /** How many jobs.getQueryResults polls answer jobComplete:false (default 1). */
  incompletePolls?: number;
  /** jobs.query itself answers with the finished first page (a fast query); default false. */
  completeOnInsert?: boolean;
  /**
   * The dry run fails the way BigQuery answers some invalid queries: HTTP 200 and a job
   * whose status.errorResult holds the reason (seen in recorded real responses).
   */
  dryRunError?: { reason: string; message: string; location?: string };
}

export type RequestKind =
  | 'tables.get'
  | 'tabledata.list'
  | 'jobs.query'
  | 'jobs.getQueryResults'
  | 'jobs.insert'
  | 'jobs.cancel'
  | 'unknown';

export interface LoggedRequest {
  kind: RequestKind;
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorization: string | undefined;
  /** The result page the request asked for (1 = first), for page reads and polls. */
  page?: number;
  status: number;
}

export interface Fault {
  on: RequestKind;
  /** Only requests for this result page (1 = first page). */
  page?: number;
  status: number;
  reason: string;
  message?: string;
  /** How many matching requests fail (default 1). */
  times?: number;
}

interface Job {
  id: string;
  projectId: string;
  location: string;
  canned: CannedQuery;
  pollsLeft: number;
}

type Reply = { status: number; body: unknown };

export class BigqueryFakeServer {
  readonly log: LoggedRequest[] = [];
  private readonly tables = new Map<string, CannedTable>();
  private readonly queries = new Map<string, CannedQuery>();
  private readonly jobs = new Map<string, Job>();
  private readonly jobsByRequestId = new Map<string, Job>();
  private faults: (Fault & { left: number })[] = [];
  private jobCounter = 0;

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
    /** When set, requests without `Authorization: Bearer <token>` get BigQuery's 401. */
    private readonly expectedToken: string | undefined,
  ) {}

  static async start(opts: { expectedToken?: string } = {}): Promise<BigqueryFakeServer> {
    let fake: BigqueryFakeServer | undefined;
    const server = createServer((req, res) => void fake!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    fake = new BigqueryFakeServer(server, `http://127.0.0.1:${port}`, opts.expectedToken);
    return fake;
  }

  /** `project.dataset.table` */
  addTable(name: string, table: CannedTable): void {
    this.tables.set(name, table);
  }

  /** Keyed by the exact SQL text the client sends. */
  addQuery(sql: string, query: CannedQuery): void {
    this.queries.set(sql, query);
  }

  injectFault(fault: Fault): void {
    this.faults.push({ ...fault, left: fault.times ?? 1 });
  }

  requests(kind?: RequestKind): LoggedRequest[] {
    return kind ? this.log.filter((r) => r.kind === kind) : this.log;
  }

  reset(): void {
    this.log.length = 0;
    this.faults = [];
  }

  async close(): Promise<void> {
    this.server.closeAllConnections(); // the client keeps connections alive
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.endpoint);
    const query = Object.fromEntries(url.searchParams);
    const text = await readBody(req);
    const body = text ? JSON.parse(text) : undefined;
    const entry: LoggedRequest = {
      kind: 'unknown',
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      body,
      authorization: req.headers.authorization,
      status: 0,
    };
    this.log.push(entry);
    const reply = this.route(entry);
    entry.status = reply.status;
    // BigQuery's exact header; the client parses error reasons from the text body it implies.
    res.writeHead(reply.status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(reply.body));
  }

  private route(entry: LoggedRequest): Reply {
    const m = /^\/bigquery\/v2\/projects\/([^/]+)\/(.*)$/.exec(entry.path);
    const parts = m ? m[2].split('/').map(decodeURIComponent) : [];
    const project = m ? decodeURIComponent(m[1]) : '';
    const { method } = entry;
    if (method === 'GET' && parts[0] === 'datasets' && parts[2] === 'tables' && parts.length === 4) entry.kind = 'tables.get';
    else if (method === 'GET' && parts[0] === 'datasets' && parts[2] === 'tables' && parts[4] === 'data') entry.kind = 'tabledata.list';
    else if (method === 'POST' && parts.length === 1 && parts[0] === 'queries') entry.kind = 'jobs.query';
    else if (method === 'GET' && parts[0] === 'queries' && parts.length === 2) entry.kind = 'jobs.getQueryResults';
    else if (method === 'POST' && parts.length === 1 && parts[0] === 'jobs') entry.kind = 'jobs.insert';
    else if (method === 'POST' && parts[0] === 'jobs' && parts[2] === 'cancel') entry.kind = 'jobs.cancel';
    if (entry.kind === 'tabledata.list' || entry.kind === 'jobs.getQueryResults') {
      entry.page = entry.query.pageToken ? (decodePageToken(entry.query.pageToken)?.page ?? 0) : 1;
    }

    if (this.expectedToken && entry.authorization !== `Bearer ${this.expectedToken}`) {
      return { status: 401, body: errorEnvelope(401, 'required') };
    }
    const fault = this.faults.find((f) => f.left > 0 && f.on === entry.kind && (f.page === undefined || f.page === entry.page));
    if (fault) {
      fault.left--;
      return { status: fault.status, body: errorEnvelope(fault.status, fault.reason, fault.message) };
    }

    switch (entry.kind) {
      case 'tables.get':
        return this.getTable(project, parts[1], parts[3]);
      case 'tabledata.list':
        return this.listTableData(project, parts[1], parts[3], entry.query);
      case 'jobs.query':
        return this.startQuery(project, entry.body as QueryRequestBody);
      case 'jobs.getQueryResults':
        return this.getQueryResults(parts[1], entry.query);
      case 'jobs.insert':
        return this.insertJob(project, entry.body as InsertJobBody);
      case 'jobs.cancel':
        return { status: 200, body: { kind: 'bigquery#jobCancelResponse', job: { jobReference: { projectId: project, jobId: parts[1] } } } };
      default:
        return { status: 404, body: errorEnvelope(404, 'notFound', `fake BigQuery does not serve ${entry.method} ${entry.path}`) };
    }
  }

  private lookupTable(project: string, dataset: string, table: string): CannedTable | Reply {
    const canned = this.tables.get(`${project}.${dataset}.${table}`);
    if (canned) return canned;
    return { status: 404, body: errorEnvelope(404, 'notFound', `Not found: Table ${project}:${dataset}.${table}`) };
  }

  private getTable(project: string, dataset: string, table: string): Reply {
    const canned = this.lookupTable(project, dataset, table);
    if ('status' in canned) return canned;
    return {
      status: 200,
      body: {
        kind: 'bigquery#table',
        etag: 'fake-etag',
        id: `${project}:${dataset}.${table}`,
        tableReference: { projectId: project, datasetId: dataset, tableId: table },
        schema: { fields: canned.fields },
        numRows: String(canned.rows.length),
        type: canned.type ?? 'TABLE',
        location: 'US',
      },
    };
  }

  private listTableData(project: string, dataset: string, table: string, query: Record<string, string>): Reply {
    const canned = this.lookupTable(project, dataset, table);
    if ('status' in canned) return canned;
    const type = canned.type ?? 'TABLE';
    if (type !== 'TABLE' && type !== 'SNAPSHOT') {
      return { status: 400, body: errorEnvelope(400, 'invalid', `Cannot list a table of type ${type}.`) };
    }
    const page = this.page(canned.fields, canned.rows, query);
    return { status: 200, body: { kind: 'bigquery#tableDataList', etag: 'fake-etag', totalRows: String(canned.rows.length), ...page } };
  }

  private startQuery(project: string, body: QueryRequestBody): Reply {
    if (body.requestId && this.jobsByRequestId.has(body.requestId)) {
      // jobs.query is idempotent per requestId: a retried POST gets the same job.
      return this.queryStatus(this.jobsByRequestId.get(body.requestId)!, firstPageQuery(body), 'bigquery#queryResponse');
    }
    const canned = this.queries.get(body.query);
    if (!canned) return unknownQuery(body.query);
    const job: Job = {
      id: `job_fake_${++this.jobCounter}`,
      projectId: project,
      location: body.location ?? 'US',
      canned,
      pollsLeft: canned.incompletePolls ?? 1,
    };
    this.jobs.set(job.id, job);
    if (body.requestId) this.jobsByRequestId.set(body.requestId, job);
    if (!canned.completeOnInsert) {
      return { status: 200, body: { kind: 'bigquery#queryResponse', jobReference: jobReference(job), jobComplete: false } };
    }
    job.pollsLeft = 0;
    return this.queryStatus(job, firstPageQuery(body), 'bigquery#queryResponse');
  }

  private getQueryResults(jobId: string, query: Record<string, string>): Reply {
    const job = this.jobs.get(jobId);
    if (!job) return { status: 404, body: errorEnvelope(404, 'notFound', `Not found: Job ${jobId}`) };
    if (job.pollsLeft > 0) {
      job.pollsLeft--;
      return { status: 200, body: { kind: 'bigquery#getQueryResultsResponse', etag: 'fake-etag', jobReference: jobReference(job), jobComplete: false } };
    }
    return this.queryStatus(job, query, 'bigquery#getQueryResultsResponse');
  }

  private queryStatus(job: Job, query: Record<string, string>, kind: string): Reply {
    if (job.pollsLeft > 0) return { status: 200, body: { kind, jobReference: jobReference(job), jobComplete: false } };
    const { fields, rows } = job.canned;
    return {
      status: 200,
      body: {
        kind,
        etag: 'fake-etag',
        schema: { fields },
        jobReference: jobReference(job),
        totalRows: String(rows.length),
        ...this.page(fields, rows, query),
        totalBytesProcessed: '0',
        jobComplete: true,
        cacheHit: false,
      },
    };
  }

  /** One page from maxResults/pageToken; `rows` is omitted when empty, as BigQuery does. */
  private page(fields: BigqueryField[], rows: WireValue[][], query: Record<string, string>): { rows?: unknown[]; pageToken?: string } {
    const token = query.pageToken ? decodePageToken(query.pageToken) : { offset: 0, page: 1 };
    if (!token) throw new Error(`fake BigQuery: bad pageToken ${query.pageToken}`);
    const max = query.maxResults ? Number(query.maxResults) : 100_000;
    const int64Timestamps = query['formatOptions.useInt64Timestamp'] === 'true';
    const slice = rows.slice(token.offset, token.offset + max).map((r) => encodeRow(fields, r, int64Timestamps));
    const next = token.offset + max;
    return {
      ...(slice.length ? { rows: slice } : {}),
      ...(next < rows.length ? { pageToken: encodePageToken(next, token.page + 1) } : {}),
    };
  }

  private insertJob(project: string, body: InsertJobBody): Reply {
    const sql = body.configuration?.query?.query ?? '';
    if (!body.configuration?.dryRun) {
      return { status: 400, body: errorEnvelope(400, 'invalid', 'fake BigQuery serves dry-run jobs.insert only') };
    }
    const canned = this.queries.get(sql);
    if (!canned) return unknownQuery(sql);
    const error = canned.dryRunError;
    return {
      status: 200,
      body: {
        kind: 'bigquery#job',
        etag: 'fake-etag',
        jobReference: { projectId: project, location: body.jobReference?.location ?? 'US' },
        configuration: { query: body.configuration.query, dryRun: true, jobType: 'QUERY' },
        status: error ? { state: 'DONE', errorResult: error, errors: [error] } : { state: 'DONE' },
        statistics: {
          creationTime: String(Date.now()),
          totalBytesProcessed: '0',
          query: error
            ? { totalBytesProcessed: '0' }
            : { totalBytesProcessed: '0', totalBytesBilled: '0', cacheHit: false, statementType: 'SELECT', schema: { fields: canned.fields } },
        },
      },
    };
  }
}

interface QueryRequestBody {
  query: string;
  maxResults?: number;
  location?: string;
  requestId?: string;
  formatOptions?: { useInt64Timestamp?: boolean };
}

interface InsertJobBody {
  jobReference?: { location?: string };
  configuration?: { dryRun?: boolean; query?: { query?: string } };
}

/** jobs.query carries the paging and format options in its body; page() reads them as query params. */
function firstPageQuery(body: QueryRequestBody): Record<string, string> {
  const query: Record<string, string> = { 'formatOptions.useInt64Timestamp': String(body.formatOptions?.useInt64Timestamp ?? false) };
  if (body.maxResults !== undefined) query.maxResults = String(body.maxResults);
  return query;
}

function jobReference(job: Job): { projectId: string; jobId: string; location: string } {
  return { projectId: job.projectId, jobId: job.id, location: job.location };
}

function unknownQuery(sql: string): Reply {
  return {
    status: 400,
    body: errorEnvelope(400, 'invalidQuery', `fake BigQuery has no canned result for this SQL (it does not run GoogleSQL): ${sql}`),
  };
}
