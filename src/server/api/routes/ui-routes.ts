import { readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { RouteModule } from '../api-server.js';
import { UI_DIST, readUiFile } from '../../ui-bundle.js';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.html': 'text/html; charset=utf-8',
};

const SECURITY = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

/** The web UI: the Vite bundle built into dist/ui, served from the package (no build step at run time). */
export const uiRoutes: RouteModule = (api) => {
  const page = (_req: unknown, reply: import('fastify').FastifyReply) => {
    void reply
      .headers({
        ...SECURITY,
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        'x-frame-options': 'DENY',
      })
      .send(readUiFile('index.html'));
  };
  for (const url of ['/', '/pipelines/:name', '/pipelines/:name/runs/:id']) api.get(url, { schema: { hide: true } }, page);
  api.get('/ui/*', { schema: { hide: true } }, async (req, reply) => {
    const file = (req.params as { '*': string })['*'];
    // Only the bundle's own files: no path may climb out of it.
    if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(file) || file.split('/').includes('..')) return reply.code(404).send({ error: `no such page: /ui/${file}` });
    let body: Buffer;
    try {
      body = readFileSync(join(UI_DIST, file));
    } catch {
      return reply.code(404).send({ error: `no such page: /ui/${file}` });
    }
    // Bundle files carry a content hash in their name: they never change, so browsers keep them.
    const caching = file.startsWith('assets/') ? { 'cache-control': 'public, max-age=31536000, immutable' } : {};
    return reply.headers({ ...SECURITY, ...caching, 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).send(body);
  });
  api.get('/favicon.ico', { schema: { hide: true } }, async (_req, reply) => reply.code(204).send());
};
