import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/databases.js';

const ROOT = resolve(__dirname, '../..');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const work = tempDir('outflow-pack-');
const consumer = join(work, 'consumer');
let files: string[] = [];

/**
 * The package as users get it: compiled into a staging copy (so a concurrent `npm run build`
 * cannot change it), packed with `npm pack`, unpacked into a consumer project's node_modules.
 * Its dependencies are linked from this repository's node_modules instead of downloaded.
 */
beforeAll(() => {
  const stage = join(work, 'stage');
  mkdirSync(stage);
  for (const f of ['package.json', 'README.md', 'assets']) cpSync(join(ROOT, f), join(stage, f), { recursive: true });
  try {
    execFileSync(process.execPath, [TSC, '-p', join(ROOT, 'tsconfig.json'), '--outDir', join(stage, 'dist')], { cwd: ROOT, stdio: 'pipe' });
  } catch {
    // type errors elsewhere still leave emitted files; the consumer's own compile below checks the types that ship
  }
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: stage, encoding: 'utf8' })) as {
    filename: string;
    files: { path: string }[];
  }[];
  files = packed[0].files.map((f) => f.path);
  const installed = join(consumer, 'node_modules', 'outflow');
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['xzf', join(work, packed[0].filename), '-C', installed, '--strip-components', '1']);
  const deps = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
  for (const dep of [...deps, '@types/node', 'undici-types']) {
    mkdirSync(join(consumer, 'node_modules', dep, '..'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', dep), join(consumer, 'node_modules', dep), 'dir');
  }
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('outflow as a library, from the packed tarball', () => {
  it('ships only what runs: compiled JavaScript, its types, the PGlite template, package.json and README', () => {
    expect(files).toContain('dist/src/index.js');
    expect(files).toContain('dist/src/index.d.ts');
    expect(files).toContain('dist/src/cli/main.js');
    expect(files.some((f) => f.startsWith('assets/pglite-'))).toBe(true);
    const unexpected = files.filter((f) => !/^(dist\/src\/.*\.(js|d\.ts)|assets\/.*\.tar\.gz|package\.json|README\.md)$/.test(f));
    expect(unexpected).toEqual([]);
  });

  it('the documented example (examples/library/sync-states.ts) type-checks against the shipped types and runs', () => {
    cpSync(join(ROOT, 'examples/library/sync-states.ts'), join(consumer, 'sync-states.ts'));
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types: ['node'], outDir: 'out' }, files: ['sync-states.ts'] }),
    );
    execFileSync(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: consumer, stdio: 'pipe' });
    const out = execFileSync(process.execPath, ['out/sync-states.js'], { cwd: consumer, encoding: 'utf8' });
    expect(out).toBe('run 1: success, inserted 2\ndestination matches the model\n');
  });

  it('the library refuses a misspelt field in definePipeline with the same error as a YAML file', () => {
    writeFileSync(
      join(consumer, 'bad.mjs'),
      `import { definePipeline, ConfigError } from 'outflow';
try { definePipeline({ name: 'x', source: { type: 'duckdb' }, model: { table: 't' }, destination: { type: 'pglite', path: 'p', table: 't' }, primay_key: 'id' }); }
catch (e) { console.log(e instanceof ConfigError, e.message); }`,
    );
    expect(execFileSync(process.execPath, ['bad.mjs'], { cwd: consumer, encoding: 'utf8' }).trim()).toBe(
      'true x.ts: (top level): unknown field "primay_key"; did you mean "primary_key"?',
    );
  });
});
