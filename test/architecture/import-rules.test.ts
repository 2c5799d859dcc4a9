import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The engine knows no connector: the stages (engine, diff, state, cli, server, config)
 * never import a connector's folder (sources/<engine>/, destinations/<engine>/), and no
 * source imports a destination or back. Shared code lives in neutral folders
 * (src/connections/, src/duckdb/). This scans every import in src/.
 */
const SRC = resolve(__dirname, '../../src');
const STAGES = ['engine', 'diff', 'state', 'cli', 'server', 'config'];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Every module a file imports (static and dynamic), as a path relative to src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.[^']+)'/g)].map((m) => m[1]);
  return specs.map((s) => relative(SRC, resolve(dirname(file), s)));
}

const all = files(SRC).map((f) => ({ file: relative(SRC, f), imports: importsOf(f) }));

describe('import rules', () => {
  it('finds the files it checks (the scan works)', () => {
    expect(all.length).toBeGreaterThan(50);
    expect(all.find((f) => f.file === 'engine/run-pipeline.ts')?.imports).toContain('destinations/destination.js');
  });

  it('no stage imports a connector folder', () => {
    const connector = /^(sources|destinations)\/[a-z0-9-]+\//;
    const bad = all.filter((f) => STAGES.includes(f.file.split('/')[0])).flatMap((f) => f.imports.filter((i) => connector.test(i)).map((i) => `${f.file} → ${i}`));
    expect(bad).toEqual([]);
  });

  it('no source imports a destination, and no destination a source', () => {
    const bad = all.flatMap((f) => {
      const top = f.file.split('/')[0];
      const other = top === 'sources' ? 'destinations/' : top === 'destinations' ? 'sources/' : undefined;
      return other ? f.imports.filter((i) => i.startsWith(other)).map((i) => `${f.file} → ${i}`) : [];
    });
    expect(bad).toEqual([]);
  });

  it('the neutral folders import no connector', () => {
    const bad = all
      .filter((f) => ['connections', 'duckdb', 'types'].includes(f.file.split('/')[0]))
      .flatMap((f) => f.imports.filter((i) => /^(sources|destinations)\/[a-z0-9-]+\//.test(i) || i.startsWith('engine/')).map((i) => `${f.file} → ${i}`));
    expect(bad).toEqual([]);
  });

  it('state does not import the engine', () => {
    const bad = all.filter((f) => f.file.startsWith('state/')).flatMap((f) => f.imports.filter((i) => i.startsWith('engine/')).map((i) => `${f.file} → ${i}`));
    expect(bad).toEqual([]);
  });
});
