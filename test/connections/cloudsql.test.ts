import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Connector } from '@google-cloud/cloud-sql-connector';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { CloudSqlFake, normalizeKey } from '../support/cloudsql-fake.js';
import { PG_URL, tempDir, uniqueName, writeFile } from '../support/databases.js';
import { mysqlAdmin } from '../support/source-fixtures.js';
import { callCommand } from '../support/command-output.js';
import { connectServer } from '../../src/destinations/postgres/pg-session.js';
import { postgresDestinationConfig } from '../../src/destinations/postgres/postgres-config.js';
import { PostgresSource } from '../../src/sources/postgres/postgres-source.js';
import { postgresSourceConfig } from '../../src/sources/postgres/postgres-config.js';
import { MysqlSource } from '../../src/sources/mysql/mysql-source.js';
import { mysqlSourceConfig } from '../../src/sources/mysql/mysql-config.js';
import { validateCommand } from '../../src/cli/validate-command.js';
import { loadPipeline } from '../../src/config/load-pipeline.js';

/**
 * Google's connector, unmodified, against local stand-ins of the Cloud SQL Admin API, the
 * token endpoint and the instance (test/support/cloudsql-fake.ts), piping to the local
 * Postgres and MariaDB. With OUTFLOW_CLOUDSQL_LIVE=1 the tests that can run against a real
 * instance do (see `live` below); assertions on the stand-ins' logs run only against them.
 */
const live = process.env.OUTFLOW_CLOUDSQL_LIVE === '1'
  ? {
      instance: process.env.OUTFLOW_CLOUDSQL_INSTANCE ?? '',
      database: process.env.OUTFLOW_CLOUDSQL_DATABASE ?? 'postgres',
      user: process.env.OUTFLOW_CLOUDSQL_USER ?? 'postgres',
      password: process.env.OUTFLOW_CLOUDSQL_PASSWORD,
      iamUser: process.env.OUTFLOW_CLOUDSQL_IAM_USER,
    }
  : undefined;

/** Generous: key generation and certificate signing are slow on a loaded 2-core machine. */
const CONNECT_MS = 60_000;
const PROJECT = 'outflow-test';
const PASSWORD = `pw_${randomBytes(8).toString('hex')}`;

let fake: CloudSqlFake | undefined;
let pgInstance = '';

beforeAll(async () => {
  if (live) {
    pgInstance = live.instance;
    return;
  }
  fake = await CloudSqlFake.start();
  process.env.GOOGLE_APPLICATION_CREDENTIALS = fake.credentialsFile;
  pgInstance = `${PROJECT}:europe-west3:pg-${randomBytes(3).toString('hex')}`;
  await fake.addInstance({ name: pgInstance, engine: 'postgres', password: PASSWORD });
});

afterAll(async () => {
  await fake?.close();
});

/** The cloudsql block for an instance: the stand-in's Admin API endpoint unless live. */
function cloudsql(instance: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { instance, ...(fake ? { admin_api_endpoint: fake.endpoint } : {}), ...extra };
}

function pgDestination(extra: Record<string, unknown> = {}) {
  return postgresDestinationConfig.parse({
    type: 'postgres',
    cloudsql: cloudsql(pgInstance),
    database: live?.database ?? 'test',
    user: live?.user ?? 'postgres',
    password: live?.password ?? PASSWORD,
    table: 'unused',
    ...extra,
  });
}

describe('Cloud SQL through Google connector', () => {
  it('connects the Postgres destination by connection name and writes rows', async () => {
    const table = uniqueName('cloudsql_rows');
    const session = await connectServer(pgDestination(), { connectTimeoutMs: CONNECT_MS, label: 'test' });
    try {
      await session.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text)`);
      await session.query(`INSERT INTO ${table} VALUES ($1, $2), ($3, $4)`, [1, 'Alabama', 2, 'Alaska']);
      const back = await session.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`);
      expect(back.rows[0].n).toBe('2');
      if (fake) {
        // The rows are in the real Postgres behind the listener, seen without the connector.
        const direct = new pg.Client({ connectionString: PG_URL });
        await direct.connect();
        const rows = (await direct.query(`SELECT name FROM ${table} ORDER BY id`)).rows.map((r) => r.name);
        await direct.end();
        expect(rows).toEqual(['Alabama', 'Alaska']);
      }
    } finally {
      await session.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
      await session.close();
    }
    if (!fake) return;
    const [projectPart, , name] = pgInstance.split(':');
    const settings = fake.adminRequests('connectSettings').filter((r) => r.instance === pgInstance);
    const certs = fake.adminRequests('generateEphemeralCert').filter((r) => r.instance === pgInstance);
    expect(settings[0].path).toBe(`/sql/v1beta4/projects/${projectPart}/instances/${name}/connectSettings`);
    expect(certs[0].path).toBe(`/sql/v1beta4/projects/${projectPart}/instances/${name}:generateEphemeralCert`);
    // Authorized with a token from the credentials file's token endpoint, for the admin scope.
    expect(certs[0].authorization).toMatch(/^Bearer ya29\.fake-cloudsql-/);
    expect(fake.requests.some((r) => r.kind === 'token' && r.body?.scope === 'https://www.googleapis.com/auth/sqlservice.admin')).toBe(true);
    // Password auth: no access token in the certificate request.
    expect(certs[0].body?.access_token).toBeUndefined();
    const conn = fake.connections.filter((c) => c.instance === pgInstance).at(-1)!;
    expect(conn.isClientCertTrusted).toBe(true);
    expect(conn.clientCertIssuer).toContain('outflow test Cloud SQL server CA');
    // The certificate the connector presented carries the key it sent to generateEphemeralCert.
    expect(certs.map((c) => normalizeKey(String(c.body?.public_key)))).toContain(conn.clientPublicKey);
    expect(conn).toMatchObject({ login: 'password', isPasswordSent: true, user: 'postgres', database: 'test' });
  });

  it('closing the session closes its connector (which stops the certificate refresh timer)', async () => {
    // A spy that calls through: the connector itself is unchanged.
    const close = vi.spyOn(Connector.prototype, 'close');
    try {
      const session = await connectServer(pgDestination(), { connectTimeoutMs: CONNECT_MS });
      expect(close).not.toHaveBeenCalled();
      await session.close();
      expect(close).toHaveBeenCalledTimes(1);
    } finally {
      close.mockRestore();
    }
  });

  it.skipIf(!!live && !live.iamUser)('auth: iam logs the IAM user in with no password', async () => {
    const iamUser = live?.iamUser ?? `${uniqueName('sa')}@${PROJECT}.iam`;
    const admin = new pg.Client({ connectionString: PG_URL });
    let iamInstance = pgInstance;
    if (fake) {
      await admin.connect();
      await admin.query(`CREATE ROLE ${admin.escapeIdentifier(iamUser)} LOGIN`);
      iamInstance = `${PROJECT}:europe-west3:iam-${randomBytes(3).toString('hex')}`;
      // No password configured: the listener accepts only an IAM login on this instance.
      await fake.addInstance({ name: iamInstance, engine: 'postgres', iamUser });
    }
    try {
      const config = postgresDestinationConfig.parse({
        type: 'postgres',
        cloudsql: cloudsql(iamInstance, { auth: 'iam' }),
        database: live?.database ?? 'test',
        user: iamUser,
        table: 'unused',
      });
      const session = await connectServer(config, { connectTimeoutMs: CONNECT_MS });
      try {
        expect((await session.query<{ u: string }>('SELECT current_user AS u')).rows[0].u).toBe(iamUser);
      } finally {
        await session.close();
      }
      if (!fake) return;
      const cert = fake.adminRequests('generateEphemeralCert').filter((r) => r.instance === iamInstance)[0];
      // The connector put an access token for the login scope into the certificate request.
      expect(String(cert.body?.access_token)).toMatch(/^ya29\.fake-cloudsql-/);
      expect(fake.requests.some((r) => r.kind === 'token' && r.body?.scope === 'https://www.googleapis.com/auth/sqlservice.login')).toBe(true);
      const conn = fake.connections.filter((c) => c.instance === iamInstance).at(-1)!;
      expect(conn).toMatchObject({ login: 'iam', isPasswordSent: false, user: iamUser });
    } finally {
      if (fake) {
        await admin.query(`DROP ROLE IF EXISTS ${admin.escapeIdentifier(iamUser)}`);
        await admin.end();
      }
    }
  });

  it('a wrong password is refused by the instance, and the message does not repeat it', async () => {
    const wrong = `wrong_${randomBytes(6).toString('hex')}`;
    const error = await connectServer(pgDestination({ password: wrong }), { connectTimeoutMs: CONNECT_MS, label: 'postgres cloudsql' }).catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(/password authentication failed/);
    expect(error.message).not.toContain(wrong);
  });

  it('the Postgres source reads a model through the connector', async () => {
    const table = uniqueName('cloudsql_src');
    const source = await PostgresSource.open(
      postgresSourceConfig.parse({ type: 'postgres', cloudsql: cloudsql(pgInstance), database: live?.database ?? 'test', user: live?.user ?? 'postgres', password: live?.password ?? PASSWORD }),
      process.cwd(),
    );
    try {
      await source.execute(`CREATE TABLE ${table} AS SELECT g AS id, 'state ' || g AS name FROM generate_series(1, 59) g`);
      const model = { table };
      const schema = await source.describe(model);
      let rows = 0;
      for await (const batch of source.read(model, schema, { batchSize: 20 })) rows += batch.rows.length;
      expect(rows).toBe(59);
    } finally {
      await source.execute(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
      await source.close();
    }
  });

  it.skipIf(!!live)('the MySQL source reads a model through the connector (MariaDB behind the listener, a real password check)', async () => {
    const user = uniqueName('cs').slice(0, 30);
    const password = `pw_${randomBytes(6).toString('hex')}`;
    const table = uniqueName('cloudsql_my');
    const admin = mysqlAdmin();
    await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
    await admin.query(`GRANT SELECT ON test.* TO '${user}'@'%'`);
    await admin.query(`CREATE TABLE \`${table}\` (id INT PRIMARY KEY, name VARCHAR(40))`);
    await admin.query(`INSERT INTO \`${table}\` VALUES (1, 'Alabama'), (2, 'Alaska'), (3, 'Arizona')`);
    const instance = `${PROJECT}:us-central1:my-${randomBytes(3).toString('hex')}`;
    await fake!.addInstance({ name: instance, engine: 'mysql' });
    const open = (pw: string) =>
      MysqlSource.open(mysqlSourceConfig.parse({ type: 'mysql', cloudsql: cloudsql(instance), database: 'test', user, password: pw }), process.cwd());
    try {
      const source = await open(password);
      try {
        const model = { table };
        const schema = await source.describe(model);
        const names: unknown[] = [];
        for await (const batch of source.read(model, schema, { batchSize: 10 })) for (const r of batch.rows) names.push(r[1]);
        expect(names.sort()).toEqual(['Alabama', 'Alaska', 'Arizona']);
      } finally {
        await source.close();
      }
      const conn = fake!.connections.filter((c) => c.instance === instance).at(-1)!;
      expect(conn.isClientCertTrusted).toBe(true);
      // MariaDB itself checks the password that came through the connector's socket.
      const refused = await open('not-the-password');
      const error = await refused.describe({ table }).catch((e) => e);
      await refused.close();
      expect(error.message).toMatch(/Access denied/);
    } finally {
      await admin.query(`DROP TABLE IF EXISTS \`${table}\``);
      await admin.query(`DROP USER IF EXISTS '${user}'@'%'`);
      await admin.close();
    }
  });

  it.skipIf(!!live)('ip_type chooses the address: an instance with only a private IP refuses public, connects private', async () => {
    const instance = `${PROJECT}:us-central1:priv-${randomBytes(3).toString('hex')}`;
    await fake!.addInstance({ name: instance, engine: 'postgres', password: PASSWORD, ipTypes: ['PRIVATE'] });
    const config = (ipType: string) => pgDestination({ cloudsql: cloudsql(instance, { ip_type: ipType }) });
    const error = await connectServer(config('public'), { connectTimeoutMs: CONNECT_MS }).catch((e) => e);
    expect(error.message).toContain(`cloudsql ${instance}: the instance has no public address`);
    const session = await connectServer(config('private'), { connectTimeoutMs: CONNECT_MS });
    expect((await session.query<{ one: number }>('SELECT 1 AS one')).rows[0].one).toBe(1);
    await session.close();
  });
});

describe.skipIf(!!live)('validate names the instance and the likely cause, with no secret', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('outflow-cloudsql-validate-');
  });

  async function validate(instance: string): Promise<string> {
    const file = writeFile(
      join(dir, `${uniqueName('p')}.yaml`),
      `source:
  type: duckdb
  path: ":memory:"
  setup: CREATE TABLE states AS SELECT 'Alabama' AS name, 'AL' AS abbreviation
model: { table: states }
destination:
  type: postgres
  cloudsql:
    instance: ${instance}
    admin_api_endpoint: ${fake!.endpoint}
  database: test
  user: postgres
  password: \${CLOUDSQL_TEST_PASSWORD}
  table: states
primary_key: name
timeouts: { connect: 60s }
`,
    );
    process.env.CLOUDSQL_TEST_PASSWORD = PASSWORD;
    // The CLI prints the message; --verbose adds the causes: check them all.
    const text = await callCommand(validateCommand, [file]).then(
      (r) => `exit ${r.code}: ${r.out}${r.err}`,
      (e) => causeChain(e),
    );
    expect(text).not.toMatch(/^exit 0/);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toMatch(/ya29\./);
    expect(text).not.toContain('PRIVATE KEY');
    return text;
  }

  it('a wrong instance name: not found (404)', async () => {
    const missing = `${PROJECT}:europe-west3:no-such-instance`;
    const text = await validate(missing);
    expect(text).toContain(`cloudsql ${missing}: instance not found (404)`);
    expect(text).toContain('The Cloud SQL instance does not exist.');
  });

  it('the Admin API not enabled (403 accessNotConfigured)', async () => {
    fake!.refuseWith({
      status: 403,
      reason: 'accessNotConfigured',
      message: `Cloud SQL Admin API has not been used in project ${PROJECT} before or it is disabled.`,
      details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'SERVICE_DISABLED', domain: 'googleapis.com' }],
    });
    try {
      const text = await validate(pgInstance);
      expect(text).toContain(`cloudsql ${pgInstance}: the Cloud SQL Admin API is not enabled in project ${PROJECT}`);
      expect(text).toContain('gcloud services enable sqladmin.googleapis.com');
    } finally {
      fake!.refuseWith(undefined);
    }
  });

  it('a refused Admin API call (403 notAuthorized): the Cloud SQL Client role', async () => {
    fake!.refuseWith({ status: 403, reason: 'notAuthorized', message: 'The client is not authorized to make this request.' });
    try {
      const text = await validate(pgInstance);
      expect(text).toContain(`cloudsql ${pgInstance}: the Cloud SQL Admin API refused the request (403)`);
      expect(text).toContain('Cloud SQL Client (roles/cloudsql.client)');
    } finally {
      fake!.refuseWith(undefined);
    }
  });

  it('an unreachable instance: its address and what to check', async () => {
    const instance = `${PROJECT}:europe-west3:down-${randomBytes(3).toString('hex')}`;
    const address = await fake!.addInstance({ name: instance, engine: 'postgres', password: PASSWORD, isUnreachable: true });
    const text = await validate(instance);
    expect(text).toContain(`cloudsql ${instance}: instance unreachable at ${address}:3307 (ECONNREFUSED, ip_type: public)`);
  });
});

function causeChain(e: unknown): string {
  const out: string[] = [];
  for (let c = e as { message?: string; cause?: unknown } | undefined; c; c = c.cause as typeof c) out.push(String(c.message));
  return out.join('\ncaused by: ');
}

describe('config: url or cloudsql', () => {
  const dir = tempDir('outflow-cloudsql-config-');
  function load(destination: string): string {
    const file = writeFile(join(dir, `${uniqueName('c')}.yaml`), `source: { type: duckdb, path: ":memory:" }\nmodel: { table: t }\ndestination:\n${destination}primary_key: id\n`);
    try {
      loadPipeline(file, { env: { PW: 'secret-pw-1' } });
      return 'loaded';
    } catch (e) {
      return (e as Error).message.replace(/^[^:]+\.yaml/, 'FILE');
    }
  }

  it('exactly one of url and cloudsql, each error with its line and field', () => {
    expect(load('  type: postgres\n  table: t\n')).toBe('FILE:4: destination.url: required: a connection url, or cloudsql: { instance: "project:region:instance" }');
    expect(load('  type: postgres\n  url: postgres://h/db\n  cloudsql: { instance: "p:r:i" }\n  table: t\n')).toBe(
      'FILE:6: destination.cloudsql: give either url or cloudsql (an instance connection name), not both',
    );
  });

  it('cloudsql needs database and user, and a password unless auth is iam', () => {
    expect(load('  type: postgres\n  cloudsql: { instance: "p:r:i" }\n  user: u\n  password: ${PW}\n  table: t\n')).toBe(
      'FILE:4: destination.database: required with cloudsql: the database name on the instance',
    );
    expect(load('  type: postgres\n  cloudsql: { instance: "p:r:i" }\n  database: d\n  user: u\n  table: t\n')).toMatch(/^FILE:4: destination.password: required with cloudsql auth: password/);
    expect(load('  type: postgres\n  cloudsql: { instance: "p:r:i", auth: iam }\n  database: d\n  user: u\n  password: ${PW}\n  table: t\n')).toBe(
      'FILE:8: destination.password: not used with cloudsql auth: iam (IAM database authentication sends no password); remove it',
    );
    expect(load('  type: postgres\n  cloudsql: { instance: "p:r:i", auth: iam }\n  database: d\n  user: sa@p.iam\n  table: t\n')).toBe('loaded');
  });

  it('the MySQL destination takes the same fields (url optional with cloudsql)', () => {
    expect(load('  type: mysql\n  table: t\n')).toBe('FILE:4: destination.url: required: a connection url, or cloudsql: { instance: "project:region:instance" }');
    expect(load('  type: mysql\n  url: mysql://h/db\n  cloudsql: { instance: "p:r:i" }\n  table: t\n')).toBe(
      'FILE:6: destination.cloudsql: give either url or cloudsql (an instance connection name), not both',
    );
    expect(load('  type: mysql\n  cloudsql: { instance: "p:r:i" }\n  user: u\n  password: ${PW}\n  table: t\n')).toBe(
      'FILE:4: destination.database: required with cloudsql: the database name on the instance',
    );
    expect(load('  type: mysql\n  cloudsql: { instance: "p:r:i" }\n  database: d\n  user: u\n  password: ${PW}\n  table: t\n')).toBe('loaded');
  });

  it('a malformed connection name, and ssl beside cloudsql', () => {
    expect(load('  type: postgres\n  cloudsql: { instance: "my-instance" }\n  database: d\n  user: u\n  password: ${PW}\n  table: t\n')).toMatch(
      /^FILE:5: destination.cloudsql.instance: an instance connection name "project:region:instance"/,
    );
    expect(load('  type: postgres\n  cloudsql: { instance: "p:r:i" }\n  ssl: { mode: require }\n  database: d\n  user: u\n  password: ${PW}\n  table: t\n')).toMatch(
      /^FILE:6: destination.ssl: not used with cloudsql/,
    );
  });
});
