import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServe, type ServeHandle, type ServeOptions } from '../../src/server/serve.js';
import { US_STATES_CSV, duckdbExec, writeFile } from '../support/databases.js';

/** A DuckDB warehouse holding the US-states model, plus `extraRows` (name, abbreviation). */
export async function usStatesWarehouse(dir: string, extraRows: [string, string][] = []): Promise<string> {
  const path = join(dir, 'warehouse.duckdb');
  await duckdbExec(path, [
    `CREATE TABLE state_abbreviations AS SELECT * FROM read_csv('${US_STATES_CSV}')`,
    ...extraRows.map(([n, a]) => `INSERT INTO state_abbreviations VALUES ('${n.replace(/'/g, "''")}', '${a.replace(/'/g, "''")}')`),
  ]);
  return path;
}

/** A US-states pipeline YAML in `pipelinesDir`; `extra` is appended (schedule, alerts, actions…). */
export function usStatesPipeline(pipelinesDir: string, o: { name: string; warehouse: string; table: string; urlEnv?: string; extra?: string }): string {
  mkdirSync(pipelinesDir, { recursive: true });
  return writeFile(
    join(pipelinesDir, `${o.name}.yaml`),
    `name: ${o.name}
description: US states into Postgres
source:
  type: duckdb
  path: ${o.warehouse}
model:
  table: state_abbreviations
destination:
  type: postgres
  url: \${${o.urlEnv ?? 'OUTFLOW_TEST_PG_URL'}}
  table: ${o.table}
primary_key: name
mode: upsert
${o.extra ?? ''}`,
  );
}

export interface TestServer extends ServeHandle {
  logs: string[];
  get<T = any>(path: string): Promise<{ status: number; body: T; text: string }>;
  post<T = any>(path: string): Promise<{ status: number; body: T; text: string }>;
  /** Every response body the test has read, to search for secrets. */
  bodies: string[];
  /** Polls a run until it is no longer running. */
  waitForRun(pipeline: string, runId: number, timeoutMs?: number): Promise<any>;
}

export async function startTestServer(opts: Omit<ServeOptions, 'port' | 'logLine'>): Promise<TestServer> {
  const logs: string[] = [];
  const bodies: string[] = [];
  const handle = await startServe({ port: 0, graceMs: 5_000, ...opts, logLine: (l) => logs.push(l) });
  const call = async (method: string, path: string) => {
    const res = await fetch(handle.url + path, { method });
    const text = await res.text();
    bodies.push(text);
    let body: unknown = undefined;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON (metrics, pages)
    }
    return { status: res.status, body: body as any, text };
  };
  return {
    ...handle,
    logs,
    bodies,
    get: (path) => call('GET', path),
    post: (path) => call('POST', path),
    async waitForRun(pipeline, runId, timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const r = await call('GET', `/api/pipelines/${pipeline}/runs/${runId}`);
        if (r.status === 200 && r.body.status !== 'running') return r.body;
        if (Date.now() > until) throw new Error(`run ${runId} of ${pipeline} still ${r.body?.status} after ${timeoutMs} ms`);
        await new Promise((ok) => setTimeout(ok, 200));
      }
    },
  };
}

/**
 * A real Postgres role with a password, for secret-leak tests. The test server trusts
 * 127.0.0.1, so any password logs in, but the URL carries a real role's real password.
 */
export async function passwordRole(db: { query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]> }) {
  const role = uniqueRoleName();
  const password = `Pw-${randomBytes(12).toString('hex')}-x`;
  const [{ sql }] = await db.query<{ sql: string }>(`SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', $1::text, $2::text) AS sql`, [role, password]);
  await db.query(sql);
  const [{ grant }] = await db.query<{ grant: string }>(`SELECT format('GRANT ALL ON SCHEMA public TO %I', $1::text) AS grant`, [role]);
  await db.query(grant);
  const base = new URL(process.env.OUTFLOW_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  base.username = role;
  base.password = password;
  return {
    role,
    password,
    url: base.toString(),
    async drop() {
      const [{ drop }] = await db.query<{ drop: string }>(`SELECT format('DROP OWNED BY %1$I; DROP ROLE %1$I', $1::text) AS drop`, [role]);
      await db.query(drop);
    },
  };
}

function uniqueRoleName(): string {
  return `outflow_pw_${process.pid}_${Date.now().toString(36)}`;
}
