import { z } from 'zod';
import { redact } from '../../../config/redact.js';
import { renderMetrics } from '../../metrics.js';
import type { RunEvent } from '../../run-manager.js';
import { errorBody } from '../api-schemas.js';
import type { RouteModule } from '../api-server.js';

export const liveRoutes: RouteModule = (api, ctx, streams) => {
  api.route({
    method: 'GET',
    url: '/api/events',
    schema: {
      tags: ['live'],
      summary: 'Server-sent events: one `run` event per change (see the RunEvent schema)',
      response: { 200: z.string().describe('text/event-stream of RunEvent'), 401: errorBody },
    },
    handler: (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-content-type-options': 'nosniff' });
      res.write(': outflow live status\n\n');
      const send = (e: RunEvent) => res.write(`event: run\ndata: ${redact(JSON.stringify(e))}\n\n`);
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      ctx.manager.on('event', send);
      streams.open.add(res);
      const close = () => {
        clearInterval(heartbeat);
        ctx.manager.off('event', send);
        streams.open.delete(res);
      };
      req.raw.on('close', close);
      res.on('finish', close);
    },
  });

  api.route({
    method: 'GET',
    url: '/metrics',
    schema: { tags: ['live'], summary: 'Prometheus metrics (text format 0.0.4)', response: { 200: z.string(), 401: errorBody } },
    handler: async (_req, reply) => {
      void reply.type('text/plain; version=0.0.4; charset=utf-8');
      return redact(await renderMetrics(ctx.entries, ctx.manager, ctx.stores));
    },
  });

  api.route({
    method: 'GET',
    url: '/api/openapi.json',
    schema: { hide: true },
    handler: async () => api.swagger(),
  });
};
