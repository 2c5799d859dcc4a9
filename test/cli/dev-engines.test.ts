import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../..');

describe('dependencies install on Node 20 without engine warnings', () => {
  it('every package in the lockfile accepts Node 20 (what `npm ci` checks)', () => {
    const lock = JSON.parse(readFileSync(resolve(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string; engines?: { node?: string } | string[]; optional?: boolean }>;
    };
    const refused: string[] = [];
    for (const [path, pkg] of Object.entries(lock.packages)) {
      const range = pkg.engines && !Array.isArray(pkg.engines) ? pkg.engines.node : undefined;
      if (!path || !range) continue;
      if (!semver.satisfies('20.19.0', range)) refused.push(`${path.replace(/^.*node_modules\//, '')}@${pkg.version}: node ${range}`);
    }
    expect(refused).toEqual([]);
  });

  it('vitest runs without the Map.groupBy shim', () => {
    expect(readFileSync(resolve(ROOT, 'vitest.config.ts'), 'utf8')).not.toMatch(/groupBy/);
  });
});
