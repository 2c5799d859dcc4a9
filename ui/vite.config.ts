import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The web UI of `outflow serve`: built into dist/ui and served by the server from the
// package under /ui/ (no build server at run time, no CDN). Preact's JSX through oxc.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // One script and one stylesheet; no inline module preload polyfill (the CSP allows only 'self').
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
});
