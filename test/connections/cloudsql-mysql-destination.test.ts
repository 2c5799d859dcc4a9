/**
 * The MySQL destination on a Cloud SQL instance by connection name: Google's connector,
 * unmodified, against the local stand-ins of the Admin API, the token endpoint and the
 * instance (test/support/cloudsql-fake.ts), whose TLS listener pipes to the local MariaDB.
 * MariaDB checks the password itself, and LOAD DATA LOCAL INFILE runs over the connector's
 * socket.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Connector } from '@google-cloud/cloud-sql-connector';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CloudSqlFake } from '../support/cloudsql-fake.js';
import { US_STATES_CSV, tempDir, uniqueName, writeFile } from '../support/databases.js';
import { mysqlAdmin } from '../support/source-fixtures.js';
import { buildCli, removeCliBuild, runCli } from '../support/cli-process.js';
import { connectMysql } from '../../src/destinations/mysql/mysql-session.js';
import { mysqlDestinationConfig, mysqlDestinationLabel } from '../../src/destinations/mysql/mysql-config.js';

const PROJECT = 'outflow-test';
const INSTANCE = `${PROJECT}:us-east1:mysql-${randomBytes(3).toString('hex')}`;
const PASSWORD = `pw_${randomBytes(8).toString('hex')}`;
/** Generous: key generation and certificate signing are slow on a loaded 2-core machine. */
const CONNECT_MS = 60_000;

let fake: CloudSqlFake;
let admin: ReturnType<typeof mysqlAdmin>;
const user = uniqueName('csd').slice(0, 30);
const tables: string[] = [];

beforeAll(async () => {
  // Before any connection: a handshake started before the build would stall behind it.
  buildCli();
  fake = await CloudSqlFake.start();
  await fake.addInstance({ name: INSTANCE, engine: 'mysql' });
  // For the in-process sessions; the CLI gets it through fake.env().
  process.env.GOOGLE_APPLICATION_CREDENTIALS = fake.credentialsFile;
  admin = mysqlAdmin();
  // A user of its own with a password: MariaDB checks it behind the listener, as Cloud SQL would.
  await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${PASSWORD}'`);
  await admin.query(`GRANT ALL ON test.* TO '${user}'@'%'`);
}, 120_000);

afterAll(async () => {
  for (const t of tables) await admin.query(`DROP TABLE IF EXISTS \`${t}\``);
  await admin?.query(`DROP USER IF EXISTS '${user}'@'%'`);
  await admin?.close();
  await fake?.close();
  removeCliBuild();
});

function destination(extra: Record<string, unknown> = {}) {
  return mysqlDestinationConfig.parse({
    type: 'mysql',
    cloudsql: { instance: INSTANCE, admin_api_endpoint: fake.endpoint },
    database: 'test',
    user,
    password: PASSWORD,
    table: 'unused',
    ...extra,
  });
}

describe('MySQL destination through the Cloud SQL connector', () => {
  it('the US-states model from the CLI: 59 rows land in MariaDB behind the instance', async () => {
    const table = uniqueName('cloudsql_states');
    tables.push(table);
    const dir = tempDir('outflow-cloudsql-mysql-');
    const file = writeFile(
      join(dir, 'us-states.yaml'),
      `name: us_states_cloudsql_mysql
source:
  type: duckdb
  path: ":memory:"
  setup: CREATE VIEW state_abbreviations AS SELECT * FROM read_csv('${US_STATES_CSV}')
model:
  table: state_abbreviations
destination:
  type: mysql
  cloudsql:
    instance: ${INSTANCE}
    admin_api_endpoint: ${fake.endpoint}
  database: test
  user: ${user}
  password: \${CLOUDSQL_PASSWORD}
  table: ${table}
primary_key: name
mode: upsert
state:
  dir: ${join(dir, 'state')}
timeouts: { connect: 60s }
`,
    );
    const env = { ...fake.env(), CLOUDSQL_PASSWORD: PASSWORD };

    const validated = await runCli(['validate', file], env);
    expect(validated.stderr).toBe('');
    expect(validated.code).toBe(0);

    const r = await runCli(['--json', 'run', file], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.counts).toMatchObject({ read: 59, inserted: 59, updated: 0 });
    expect(`${r.stdout}${r.stderr}${validated.stdout}`).not.toContain(PASSWORD);

    // The rows are in the real MariaDB, seen without the connector.
    const [{ n }] = (await admin.query(`SELECT count(*) AS n FROM \`${table}\``)) as { n: number }[];
    expect(Number(n)).toBe(59);
    const [ca] = (await admin.query(`SELECT abbreviation FROM \`${table}\` WHERE name = 'California'`)) as { abbreviation: string }[];
    expect(ca.abbreviation).toBe('CA');

    // The connector asked the Admin API about this instance, with a token from the credentials file.
    const [project, , name] = INSTANCE.split(':');
    const settings = fake.adminRequests('connectSettings').filter((q) => q.instance === INSTANCE);
    const certs = fake.adminRequests('generateEphemeralCert').filter((q) => q.instance === INSTANCE);
    expect(settings.length).toBeGreaterThan(0);
    expect(settings[0].path).toBe(`/sql/v1beta4/projects/${project}/instances/${name}/connectSettings`);
    expect(certs[0].authorization).toMatch(/^Bearer ya29\.fake-cloudsql-/);
    // Every connection to the instance presented a client certificate signed by the fake CA.
    const conns = fake.connections.filter((c) => c.instance === INSTANCE);
    expect(conns.length).toBeGreaterThan(0);
    expect(conns.every((c) => c.isClientCertTrusted && c.clientCertIssuer.includes('outflow test Cloud SQL server CA'))).toBe(true);

    // A second run: nothing changed, nothing written.
    const again = await runCli(['--json', 'run', file], env);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).counts).toMatchObject({ read: 59, inserted: 0, updated: 0 });
  });

  it('closing the session closes its connector (which stops the certificate refresh timer)', async () => {
    const close = vi.spyOn(Connector.prototype, 'close');
    try {
      const session = await connectMysql(destination(), { connectTimeoutMs: CONNECT_MS, label: 'mysql cloudsql', baseDir: process.cwd() });
      expect(await session.query<{ u: string }>('SELECT CURRENT_USER() AS u')).toEqual([{ u: `${user}@%` }]);
      expect(close).not.toHaveBeenCalled();
      await session.close();
      expect(close).toHaveBeenCalledTimes(1);
    } finally {
      close.mockRestore();
    }
  });

  it('a wrong password is refused by the server behind the instance, and the message does not repeat it', async () => {
    const wrong = `wrong_${randomBytes(6).toString('hex')}`;
    const close = vi.spyOn(Connector.prototype, 'close');
    try {
      const error = await connectMysql(destination({ password: wrong }), { connectTimeoutMs: CONNECT_MS, label: 'mysql cloudsql', baseDir: process.cwd() }).catch((e) => e);
      expect(error).toBeInstanceOf(Error);
      expect(error.message).toMatch(/Access denied/);
      expect(error.message).not.toContain(wrong);
      // The failed connect still closed the connector it opened.
      expect(close).toHaveBeenCalledTimes(1);
    } finally {
      close.mockRestore();
    }
  });
});

describe('MySQL destination label', () => {
  it('the label names the instance and database, never the password', () => {
    const label = mysqlDestinationLabel(destination({ table: 'crm.states' }));
    expect(label).toBe(`mysql cloudsql ${INSTANCE}/test crm.states`);
    expect(label).not.toContain(PASSWORD);
  });
});
