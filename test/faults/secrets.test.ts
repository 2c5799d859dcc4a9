import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PG_URL, duckdbExec, tempDir, uniqueName, writeFile } from '../support/databases.js';

/**
 * Runs the built CLI the way a user does — validate, preview, run, runs, verify, with and
 * without --json, --verbose on failures — with a destination URL holding a real password
 * (a role created for the test; trust auth on loopback accepts it), then greps every byte
 * the CLI printed and every file of its state folder (run history, rejected rows,
 * snapshots) for the password.
 */
const ROOT = resolve(__dirname, '../..');
const CLI = [join(ROOT, 'dist/src/cli/main.js'), join(ROOT, 'dist/cli/main.js')].find((f) => existsSync(f));

interface Captured {
  args: string[];
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string>): Promise<Captured> {
  return new Promise((res) => {
    execFile(process.execPath, [CLI!, ...args], { env: { ...process.env, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      res({ args, code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe('no secret in any output', () => {
  const password = `pw_${randomBytes(8).toString('hex')}_Zq9`;
  const role = uniqueName('outflow_secret');
  const table = uniqueName('secret_target');
  let admin: pg.Client;
  let dir: string;
  let goodUrl: string;

  beforeAll(async () => {
    expect(CLI, 'build the CLI first (npm run build)').toBeDefined();
    admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    await admin.query(`GRANT USAGE, CREATE ON SCHEMA public TO ${role}`);
    // outflow runs CREATE SCHEMA IF NOT EXISTS before creating a table, which needs CREATE on the database.
    const db = (await admin.query<{ d: string }>('SELECT current_database() AS d')).rows[0].d;
    await admin.query(`GRANT CREATE ON DATABASE ${admin.escapeIdentifier(db)} TO ${role}`);
    const u = new URL(PG_URL);
    u.username = role;
    u.password = password;
    goodUrl = u.toString();
    dir = tempDir('outflow-secrets-');
    await duckdbExec(join(dir, 'warehouse.duckdb'), [
      `CREATE TABLE m AS SELECT i AS id, 'row ' || i AS name FROM range(1, 21) t(i)`,
      // One row Postgres cannot store, so rejected-row output is exercised too.
      `INSERT INTO m VALUES (99, 'nul' || chr(0))`,
    ]);
  });
  afterAll(async () => {
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.query(`DROP OWNED BY ${role}`);
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  });

  function pipelineFile(name: string, url: string): string {
    return writeFile(
      join(dir, `${name}.yaml`),
      `name: ${name}
source:
  type: duckdb
  path: ${join(dir, 'warehouse.duckdb')}
  read_only: true
model:
  table: m
destination:
  type: postgres
  url: ${url}
  table: ${table}
primary_key: id
mode: upsert
retry:
  attempts: 2
  initial_delay: 10ms
timeouts:
  connect: 1s
state:
  dir: ${join(dir, 'state')}
`,
    );
  }

  it('the password appears 0 times in stdout, stderr and the state folder', async () => {
    const env = {
      DEST_URL: goodUrl,
      BAD_PORT_URL: goodUrl.replace(/:\d+\//, ':1/'),
      BAD_DB_URL: goodUrl.replace(/\/[^/]+$/, '/no_such_db_here'),
    };
    const good = pipelineFile('from_env', '${DEST_URL}');
    // A password written into the file itself (bad practice, still never printed).
    const inline = pipelineFile('inline', goodUrl);
    const refused = pipelineFile('refused', '${BAD_PORT_URL}');
    const noDb = pipelineFile('no_db', '${BAD_DB_URL}');
    const outputs: Captured[] = [];
    const run = async (...args: string[]) => {
      const c = await cli(args, env);
      outputs.push(c);
      return c;
    };
    for (const json of [[], ['--json']]) {
      await run(...json, 'validate', good);
      await run(...json, 'preview', good);
    }
    const first = await run('run', good);
    expect(first.code, first.stderr).toBe(3); // partial: the NUL row is rejected
    const again = await run('--json', 'run', inline);
    expect(JSON.parse(again.stdout)).toMatchObject({ status: 'partial', counts: { rejected: 1 } });
    for (const json of [[], ['--json']]) {
      await run(...json, 'runs', good);
      await run(...json, 'runs', good, '--rejected');
      await run(...json, 'verify', good);
    }
    // Failing connections: every command once, and validate/run also with --json and --verbose
    // (the cause chain and stack traces). Three at a time, to keep the suite short.
    const failing: string[][] = [];
    for (const bad of [refused, noDb]) {
      for (const cmd of ['validate', 'run', 'verify', 'preview']) failing.push([cmd, bad]);
      for (const flags of [['--json'], ['--verbose']]) for (const cmd of ['validate', 'run']) failing.push([...flags, cmd, bad]);
    }
    for (let i = 0; i < failing.length; i += 3) {
      const batch = await Promise.all(failing.slice(i, i + 3).map((args) => run(...args)));
      for (const c of batch) expect(c.code, `${c.args.join(' ')} should fail`).not.toBe(0);
    }
    await run('runs', noDb);
    await run('--json', 'runs', refused);
    // The failures really were connection failures, and said so.
    const failures = outputs.filter((o) => o.args.includes(refused) && o.args.includes('validate'));
    expect(failures[0].stderr).toMatch(/cannot connect|ECONNREFUSED/);
    expect(outputs.find((o) => o.args.includes(noDb) && o.args.includes('run'))?.stderr).toMatch(/no_such_db_here/);

    let printed = 0;
    for (const o of outputs) printed += (o.stdout + o.stderr).split(password).length - 1;
    const stateFiles = filesUnder(join(dir, 'state'));
    let stored = 0;
    for (const f of stateFiles) stored += readFileSync(f).toString('latin1').split(password).length - 1;
    const bytes = outputs.reduce((a, o) => a + o.stdout.length + o.stderr.length, 0);
    console.log(
      `[secrets] ${outputs.length} CLI invocations (${bytes} bytes of output) and ${stateFiles.length} state files grepped for the password: ${printed + stored} occurrences`,
    );
    expect(stateFiles.some((f) => f.endsWith('history.sqlite'))).toBe(true);
    expect(printed).toBe(0);
    expect(stored).toBe(0);
  });
});
