/**
 * The seed's pipeline, examples/bigquery-to-cloudsql/pipeline.yaml, run from the CLI the way
 * a user runs it, through the local stand-ins: BigQuery's REST API (bigquery-fake-server)
 * and Cloud SQL's Admin API, token endpoint and instance (cloudsql-fake) in front of the
 * local Postgres. The example file is used as written, except for what points it at the
 * stand-ins: the two API endpoints, the state folder, a roomier connect timeout (certificate
 * signing is slow on a loaded machine) and a schema of its own for the target table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { parseDocument } from 'yaml';
import { BigqueryFakeServer } from '../support/bigquery-fake-server.js';
import { CloudSqlFake } from '../support/cloudsql-fake.js';
import { PG_URL, US_STATES_CSV, tempDir, uniqueName } from '../support/databases.js';
import { buildCli, removeCliBuild, runCli } from '../support/cli-process.js';

const EXAMPLE = resolve(__dirname, '../../examples/bigquery-to-cloudsql/pipeline.yaml');
const PROJECT = 'outflow-demo';
const TOKEN = 'ya29.outflow-example-bigquery-token';
const PASSWORD = `pw_${randomBytes(8).toString('hex')}`;
const INSTANCE = `${PROJECT}:europe-west3:crm`;
const FIELDS = [
  { name: 'name', type: 'STRING', mode: 'NULLABLE' },
  { name: 'abbreviation', type: 'STRING', mode: 'NULLABLE' },
];

describe('examples/bigquery-to-cloudsql from the CLI, through the BigQuery and Cloud SQL stand-ins', () => {
  let bigquery: BigqueryFakeServer;
  let cloudsql: CloudSqlFake;
  let db: pg.Client;
  let file: string;
  const schema = uniqueName('cloudsql_example');
  const target = `"${schema}".state_abbreviations`;
  let rows: [string, string][];
  let env: Record<string, string>;

  const can = () => bigquery.addTable(`${PROJECT}.demo_data.state_abbreviations`, { fields: FIELDS, rows });
  const run = async () => {
    const r = await runCli(['--json', 'run', file], env);
    // --json prints the run report; a failed run adds an error object after it.
    const result = JSON.parse(r.stdout.slice(0, r.stdout.indexOf('\n}') + 2));
    return { ...r, result, output: r.stdout + r.stderr };
  };
  const count = async () => Number((await db.query(`SELECT count(*) AS n FROM ${target}`)).rows[0].n);

  beforeAll(async () => {
    buildCli();
    rows = readFileSync(US_STATES_CSV, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(',') as [string, string]);
    bigquery = await BigqueryFakeServer.start({ expectedToken: TOKEN });
    can();
    cloudsql = await CloudSqlFake.start();
    await cloudsql.addInstance({ name: INSTANCE, engine: 'postgres', password: PASSWORD });
    db = new pg.Client({ connectionString: PG_URL });
    await db.connect();
    await db.query(`CREATE SCHEMA "${schema}"`);

    const dir = tempDir('outflow-example-cloudsql-');
    const doc = parseDocument(readFileSync(EXAMPLE, 'utf8'));
    doc.setIn(['source', 'api_endpoint'], bigquery.endpoint);
    doc.setIn(['destination', 'cloudsql', 'admin_api_endpoint'], cloudsql.endpoint);
    doc.setIn(['destination', 'table'], `${schema}.state_abbreviations`);
    doc.setIn(['state', 'dir'], join(dir, 'state'));
    doc.setIn(['timeouts'], { connect: '60s' });
    file = join(dir, 'pipeline.yaml');
    writeFileSync(file, doc.toString());
    env = {
      ...cloudsql.env(),
      OUTFLOW_BIGQUERY_ACCESS_TOKEN: TOKEN,
      BIGQUERY_PROJECT: PROJECT,
      CLOUDSQL_INSTANCE: INSTANCE,
      CLOUDSQL_DATABASE: 'test',
      CLOUDSQL_USER: 'postgres',
      CLOUDSQL_PASSWORD: PASSWORD,
    };
  });

  afterAll(async () => {
    await db?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db?.end();
    await bigquery?.close();
    await cloudsql?.close();
    removeCliBuild();
  });

  it('validates, then 59 rows, then Justania (60), then JA + Justintucky (61)', async () => {
    const v = await runCli(['validate', file], env);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('valid');

    const first = await run();
    expect(first.code).toBe(0);
    expect(first.result.counts).toMatchObject({ read: 59, inserted: 59, updated: 0 });
    expect(await count()).toBe(59);

    rows.push(['Justania', 'JT']);
    can();
    const second = await run();
    expect(second.code).toBe(0);
    expect(second.result.counts).toMatchObject({ read: 60, added: 1, inserted: 1, updated: 0 });
    expect(await count()).toBe(60);

    rows = rows.map((r) => (r[0] === 'Justania' ? ['Justania', 'JA'] : r));
    rows.push(['Justintucky', 'JK']);
    can();
    const third = await run();
    expect(third.code).toBe(0);
    expect(third.result.counts).toMatchObject({ read: 61, added: 1, changed: 1, inserted: 1, updated: 1, unchanged: 59 });
    expect(await count()).toBe(61);
    expect((await db.query(`SELECT abbreviation FROM ${target} WHERE name = 'Justania'`)).rows).toEqual([{ abbreviation: 'JA' }]);

    // Every connection went through the connector: certificates from the fake Admin API,
    // a client certificate signed by its CA at the instance, no password in any output.
    expect(cloudsql.adminRequests('generateEphemeralCert').every((r) => r.instance === INSTANCE && r.status === 200)).toBe(true);
    expect(cloudsql.connections.length).toBeGreaterThan(0);
    expect(cloudsql.connections.every((c) => c.isClientCertTrusted && c.login === 'password')).toBe(true);
    for (const r of [v, first, second, third]) expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });

  it('a failing merge runs the truncate-staging action and leaves the table as it was', async () => {
    // A whole-statement failure at merge time (a trigger vetoing one row), not a row-level one.
    await db.query(`CREATE FUNCTION "${schema}".veto() RETURNS trigger AS $$ BEGIN
        IF NEW.abbreviation = 'XX' THEN RAISE EXCEPTION 'vetoed by trigger'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
    await db.query(`CREATE TRIGGER veto BEFORE INSERT OR UPDATE ON ${target} FOR EACH ROW EXECUTE FUNCTION "${schema}".veto()`);
    const before = (await db.query(`SELECT name, abbreviation FROM ${target} ORDER BY name`)).rows;
    const seen = cloudsql.connections.length;

    rows = rows.map((r) => (r[0] === 'Alabama' ? ['Alabama', 'XX'] : r));
    can();
    const failed = await run();
    expect(failed.code).toBe(1);
    expect(failed.result.status).toBe('failed');
    expect(failed.result.error).toMatch(/vetoed by trigger/);
    expect((await db.query(`SELECT name, abbreviation FROM ${target} ORDER BY name`)).rows).toEqual(before);
    // The on_failure action reached the instance through the connector and emptied staging.
    const statements = cloudsql.connections.slice(seen).flatMap((c) => c.statements);
    expect(statements.some((s) => /^TRUNCATE "[^"]+"\."_outflow_stage_bigquery_to_cloudsql"$/.test(s))).toBe(true);
    expect((await db.query(`SELECT count(*)::int AS n FROM "${schema}"._outflow_stage_bigquery_to_cloudsql`)).rows).toEqual([{ n: 0 }]);
  });
});
