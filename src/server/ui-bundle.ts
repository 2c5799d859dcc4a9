import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Where the built web UI is: `dist/ui` of the package. Compiled code runs from
 * dist/src/server (../../ui); tests run the sources from src/server (../../dist/ui).
 */
// dist/ui first: from src/server, ../../ui is the front-end's source folder, not the bundle.
export const UI_DIST = [new URL('../../dist/ui/', import.meta.url), new URL('../../ui/', import.meta.url)]
  .map((u) => fileURLToPath(u))
  .find((dir) => existsSync(`${dir}/index.html`)) ?? fileURLToPath(new URL('../../ui/', import.meta.url));

/** The page shell, read on each page load (a few hundred bytes), so a rebuilt UI is served at once. */
export function readUiFile(name: 'index.html'): Buffer {
  try {
    return readFileSync(`${UI_DIST}/${name}`);
  } catch {
    throw new Error(`the web UI is not built (no ${UI_DIST}${name}); run npm run build`);
  }
}
