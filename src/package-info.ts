import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The outflow package folder. Sources (src/), compiled files (dist/src/) and an installed
 * package (node_modules/outflow/dist/src/) sit at different depths under it, so it is found
 * by walking up to the package.json named outflow.
 */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'outflow') return dir;
  }
  throw new Error(`outflow's package.json was not found above ${from}`);
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
