import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../package-info.js';

/**
 * A new PGlite data folder normally runs initdb first: a second WebAssembly program that
 * bootstraps the catalogs in single-user mode, copying the whole 128 MB heap between its
 * steps. On the 2-core reference machine that is most of the demo's first-run time and its
 * ~0.9 GB peak RSS, for 59 rows. A freshly initdb'd data folder is the same every time, so
 * outflow ships one (assets/, made by `npm run pglite-template` for the installed PGlite) and
 * a new data folder is unpacked from it instead. Only for the exact PGlite version it was
 * made with: another version may have a different catalog layout, and runs initdb as before.
 */
export function installedPgliteVersion(): string {
  const require = createRequire(import.meta.url);
  // The package's exports hide package.json; its main file sits in dist/ beside it.
  const main = require.resolve('@electric-sql/pglite');
  const pkg = JSON.parse(readFileSync(join(dirname(main), '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export function pgliteTemplateFile(version = installedPgliteVersion(), assetsDir = join(packageRoot(), 'assets')): string {
  return join(assetsDir, `pglite-${version}-datadir.tar.gz`);
}

/**
 * Makes the data folder (its parents too: PGlite creates only the last level) and returns the
 * PGlite options that start it from the shipped template when it is new.
 */
export function preparePgliteDataDir(dataDir: string): { loadDataDir?: Blob } {
  mkdirSync(dataDir, { recursive: true });
  const isNew = readdirSync(dataDir).length === 0;
  if (!isNew) return {};
  const file = pgliteTemplateFile();
  return existsSync(file) ? { loadDataDir: new Blob([readFileSync(file)]) } : {};
}

/** Runs initdb once in memory and writes the data folder as the template for this PGlite version. */
export async function writePgliteTemplate(file = pgliteTemplateFile()): Promise<string> {
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create('memory://');
  try {
    await db.query('CHECKPOINT');
    const dump = await db.dumpDataDir('gzip');
    writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
    return file;
  } finally {
    await db.close();
  }
}
