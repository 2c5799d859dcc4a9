import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { loadPipeline } from '../../src/config/load-pipeline.js';
import { duckdbExec, tempDir, uniqueName } from '../support/databases.js';

/**
 * TLS end to end: a Postgres this test owns (initdb + pg_ctl under a temp folder, as the
 * `postgres` user, on a free port) with ssl=on, a certificate for `localhost` signed by a
 * CA the test generates, and pg_hba refusing every connection without TLS.
 */
const BIN = (() => {
  const root = '/usr/lib/postgresql';
  const version = existsSync(root) ? readdirSync(root).sort().pop() : undefined;
  return version ? join(root, version, 'bin') : undefined;
})();
const canRun = !!BIN && spawnSync('id', ['postgres']).status === 0 && spawnSync('openssl', ['version']).status === 0;

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

function asPostgres(cmd: string, args: string[]): string {
  const isRoot = process.getuid?.() === 0;
  return execFileSync(isRoot ? 'runuser' : cmd, isRoot ? ['-u', 'postgres', '--', cmd, ...args] : args, { encoding: 'utf8', stdio: 'pipe' });
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

describe.skipIf(!canRun)('TLS verify-full against a Postgres with ssl=on and a generated CA', () => {
  let dir: string;
  let port: number;
  let warehouse: string;
  const data = () => join(dir, 'data');

  beforeAll(async () => {
    dir = tempDir('outflow-tls-');
    chmodSync(dir, 0o755);
    // The CA, a server certificate for localhost (DNS name only: 127.0.0.1 is not in it), and a second, unrelated CA.
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=outflow test CA', '-keyout', 'ca.key', '-out', 'ca.pem'], dir);
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=other CA', '-keyout', 'other.key', '-out', 'other.pem'], dir);
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr'], dir);
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost\n');
    openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.pem'], dir);
    // The server reads its key as `postgres`, and refuses a key others can read.
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    for (const f of ['server.key', 'server.pem', '.']) chownSync(join(dir, f), uid, gid);
    chmodSync(join(dir, 'server.key'), 0o600);

    asPostgres(join(BIN!, 'initdb'), ['-D', data(), '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    // Only TLS connections are let in.
    writeFileSync(join(data(), 'pg_hba.conf'), 'hostnossl all all 0.0.0.0/0 reject\nhostssl all all 127.0.0.1/32 trust\nlocal all all trust\n');
    port = await freePort();
    const settings = [`-p ${port}`, `-k ${dir}`, "-c listen_addresses='127.0.0.1'", '-c ssl=on', `-c ssl_cert_file=${join(dir, 'server.pem')}`, `-c ssl_key_file=${join(dir, 'server.key')}`];
    asPostgres(join(BIN!, 'pg_ctl'), ['-D', data(), '-l', join(dir, 'server.log'), '-w', '-o', settings.join(' '), 'start']);

    warehouse = join(dir, 'warehouse.duckdb');
    await duckdbExec(warehouse, `CREATE TABLE items AS SELECT i::INTEGER AS id, 'n' || i AS name FROM range(1, 51) t(i)`);
  }, 120_000);

  afterAll(() => {
    if (dir && existsSync(data())) spawnSync('runuser', ['-u', 'postgres', '--', join(BIN!, 'pg_ctl'), '-D', data(), '-m', 'immediate', 'stop']);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const pipeline = (host: string, ssl: string) => {
    const name = uniqueName('tls');
    const file = join(dir, `${name}.yaml`);
    writeFileSync(
      file,
      `name: ${name}
source:
  type: duckdb
  path: ${warehouse}
  read_only: true
model:
  table: items
destination:
  type: postgres
  url: postgres://postgres@${host}:${port}/postgres
  table: ${name}
  ${ssl.replace(/\n/g, '\n  ')}
primary_key: id
mode: upsert
retry:
  attempts: 1
state:
  dir: ${join(dir, 'state')}
`,
    );
    return loadPipeline(file);
  };

  it('verify-full with the CA that signed the certificate: the rows arrive over TLS', async () => {
    const r = await runPipeline(pipeline('localhost', `ssl:\n  mode: verify-full\n  ca_file: ${join(dir, 'ca.pem')}`));
    expect(r.status, r.error).toBe('success');
    expect(r.counts.inserted).toBe(50);
  });

  it('verify-full refuses a host name the certificate does not name; verify-ca accepts it', async () => {
    const full = await runPipeline(pipeline('127.0.0.1', `ssl:\n  mode: verify-full\n  ca_file: ${join(dir, 'ca.pem')}`));
    expect(full.status).toBe('failed');
    expect(full.error).toMatch(/127\.0\.0\.1|altnames|host/i);
    const ca = await runPipeline(pipeline('127.0.0.1', `ssl:\n  mode: verify-ca\n  ca_file: ${join(dir, 'ca.pem')}`));
    expect(ca.status, ca.error).toBe('success');
  });

  it('verify-full refuses a certificate from another CA, and a plain connection is refused by the server', async () => {
    const other = await runPipeline(pipeline('localhost', `ssl:\n  mode: verify-full\n  ca_file: ${join(dir, 'other.pem')}`));
    expect(other.status).toBe('failed');
    expect(other.error).toMatch(/certificate/i);
    const plain = await runPipeline(pipeline('localhost', `ssl:\n  mode: disable`));
    expect(plain.status).toBe('failed');
    expect(plain.error).toMatch(/no encryption|pg_hba/i);
  });
});
