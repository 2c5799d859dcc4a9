import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { openTestDestination, tempDir, uniqueName, type TestDestination } from '../support/databases.js';
import { passwordRole, startTestServer, usStatesPipeline, usStatesWarehouse, type TestServer } from './serve-fixtures.js';

const ARTIFACTS = resolve(__dirname, '../../test-artifacts');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The web UI in real headless Chromium (Debian's /usr/bin/chromium), driven by playwright-core. */
describe('outflow serve: web UI in Chromium', () => {
  let dir: string;
  let db: TestDestination;
  let role: Awaited<ReturnType<typeof passwordRole>>;
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  const table = uniqueName('ui_states');
  const name = 'us_states';
  const pageTexts: string[] = [];

  beforeAll(async () => {
    dir = tempDir();
    mkdirSync(ARTIFACTS, { recursive: true });
    db = await openTestDestination('postgres', dir);
    role = await passwordRole(db);
    await db.query(`CREATE TABLE ${table} (name VARCHAR(100) PRIMARY KEY, abbreviation VARCHAR(2))`);
    await db.query(`ALTER TABLE ${table} OWNER TO ${role.role}`);
    const warehouse = await usStatesWarehouse(dir, [['Justania', 'JTX']]);
    const pipelines = join(dir, 'pipelines');
    usStatesPipeline(pipelines, {
      name,
      warehouse,
      table,
      urlEnv: 'UI_PG_URL',
      extra: `every: 1h\nactions:\n  before:\n    - name: hold a moment\n      sql: SELECT pg_sleep(1)\n  on_failure:\n    - name: truncate staging\n      sql: TRUNCATE {{staging_table}}\n`,
    });
    server = await startTestServer({ dir: pipelines, stateDir: join(dir, 'state'), env: { ...process.env, UI_PG_URL: role.url } });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1366, height: 860 } });
    page.on('pageerror', (e) => pageTexts.push(`pageerror: ${e.message}`));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await db.query(`DROP TABLE IF EXISTS ${table}`);
    await role.drop();
    await db.close();
  });

  async function snap(file: string) {
    pageTexts.push(await page.content());
    await page.screenshot({ path: join(ARTIFACTS, file), fullPage: true });
  }

  it('runs a pipeline from the pipelines page and shows its counts and rejected row', async () => {
    await page.goto(server.url + '/');
    const row = page.locator(`tr[data-pipeline="${name}"]`);
    await row.locator('[data-status="never run"]').waitFor();
    await expect(row.textContent()).resolves.toContain('every 1 h');
    await snap('serve-pipelines.png');

    await row.locator('button[data-action="run-now"]').click();
    // Live status: the row turns to running, then to the run's outcome, without a reload.
    await row.locator('[data-status="running"]').waitFor({ timeout: 10_000 });
    await snap('serve-pipelines-running.png');
    await row.locator('[data-status="partial"]').waitFor({ timeout: 180_000 });
    await expect(row.textContent()).resolves.toMatch(/run \d+.*added 60 · changed 0 · removed 0 · rejected 1/);
    await snap('serve-pipelines-done.png');

    await row.locator(`a[href="/pipelines/${name}"]`).click();
    await page.locator('#runs tr[data-run]').first().waitFor();
    await page.locator('#graph [data-node="Destination"]').waitFor();
    const graph = await page.locator('#graph').textContent();
    expect(graph).toContain('hold a moment');
    expect(graph).toContain('truncate staging');
    expect(graph).toContain(`postgres 127.0.0.1:5432/test ${table}`);
    expect(await page.locator('#chart rect[data-kind]').count()).toBe(5);
    expect(await page.locator('#config').textContent()).toContain('url: ${UI_PG_URL}');
    await snap('serve-pipeline.png');

    await page.locator('#runs tr[data-run] a').first().click();
    await page.locator('#counts').waitFor();
    expect(await page.locator('[data-count="read"] .v').textContent()).toBe('60');
    expect(await page.locator('[data-count="inserted"] .v').textContent()).toBe('59');
    expect(await page.locator('[data-count="rejected"] .v').textContent()).toBe('1');
    const rejected = await page.locator('#rejected tbody tr').allTextContents();
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatch(/name="Justania"abbreviation.*too long for type character varying\(2\)/);
    expect(await page.locator('#stages').textContent()).toContain('before actions');
    await snap('serve-run.png');
  });

  it('shows no secret in any page', async () => {
    expect(pageTexts.filter((t) => t.startsWith('pageerror'))).toEqual([]);
    expect(pageTexts.length).toBeGreaterThanOrEqual(5);
    expect(pageTexts.filter((t) => t.includes(role.password))).toEqual([]);
    expect(server.logs.filter((t) => t.includes(role.password))).toEqual([]);
  });
});
