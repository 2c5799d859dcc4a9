import { timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  hasZodFastifySchemaValidationErrors,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { redactValue } from '../../config/redact.js';
import { jsonSafe } from '../../state/history.js';
import { HttpError, type ApiContext } from './api-context.js';
import { errorBody } from './api-schemas.js';
import { ROUTE_MODULES } from './routes/index.js';

/** One file of routes: registers its endpoints on the typed Fastify instance. */
export type RouteModule = (api: TypedApi, ctx: ApiContext, streams: EventStreams) => void;
/** The Fastify instance with the zod type provider: what route modules register on. */
export type TypedApi = ReturnType<typeof typed>;
function typed(app: FastifyInstance) {
  return app.withTypeProvider<ZodTypeProvider>();
}

/** Open /api/events responses, ended cleanly at shutdown after the last events are written. */
export class EventStreams {
  readonly open = new Set<ServerResponse>();
  endAll(): void {
    for (const res of this.open) res.end();
    this.open.clear();
  }
}

export interface ApiServer {
  app: FastifyInstance;
  streams: EventStreams;
}

/**
 * The HTTP API, the metrics and the web UI on Fastify. Requests and responses are checked
 * against the zod schemas of each route, and every JSON answer passes through redaction.
 */
export async function createApiServer(ctx: ApiContext): Promise<ApiServer> {
  const app = Fastify({ logger: false, return503OnClosing: true, forceCloseConnections: true });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  const streams = new EventStreams();

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'outflow serve',
        version: '1',
        description: 'Pipelines, runs, previews and live events of an outflow server. With OUTFLOW_TOKEN set, send Authorization: Bearer $OUTFLOW_TOKEN.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
    hideUntagged: false,
  });

  // Paths and methods the API knows, for 405 (Fastify answers an unknown method with 404).
  const known: { pattern: RegExp; methods: Set<string> }[] = [];
  app.addHook('onRoute', (route) => {
    // The answers every API route may give (bad parameter, token, cross-site, wrong Host) are documented on each.
    const response = route.schema?.response as Record<string, unknown> | undefined;
    if (response && !route.schema?.hide) for (const status of [400, 401, 403, 421]) response[status] ??= errorBody;
    const pattern = new RegExp('^' + route.url.replace(/:[^/]+/g, '[^/]+') + '$');
    let k = known.find((x) => x.pattern.source === pattern.source);
    if (!k) known.push((k = { pattern, methods: new Set() }));
    for (const m of [route.method].flat()) k.methods.add(m);
  });

  app.addHook('onRequest', async (req) => {
    checkHost(ctx, req);
    const path = req.url.split('?')[0];
    if (path.startsWith('/api/') || path === '/metrics') {
      checkToken(ctx, req);
      checkOrigin(req);
    }
  });
  app.addHook('onResponse', async (req, reply) => {
    const path = req.url.split('?')[0];
    if (path === '/api/events') return;
    ctx.log.info('http.request', { method: req.method, path, status: reply.statusCode, ms: Math.round(reply.elapsedTime) });
  });
  // Every JSON answer: values bigints/bytes made JSON-safe, then redacted, then serialized.
  app.addHook('preSerialization', async (_req, reply, payload) => {
    reply.header('cache-control', 'no-store').header('x-content-type-options', 'nosniff');
    return redactValue(jsonSafe(payload));
  });

  app.setErrorHandler((e: Error & { statusCode?: number }, req, reply) => {
    let status = e instanceof HttpError ? e.status : (e.statusCode ?? 500);
    let message = e.message;
    if (hasZodFastifySchemaValidationErrors(e)) {
      status = 400;
      const first = e.validation[0];
      message = `${first.instancePath.replace(/^\//, '').replace(/\//g, '.')}: ${first.message}`;
    }
    if (status >= 500 && !(e instanceof HttpError)) ctx.log.error('http.error', { method: req.method, path: req.url.split('?')[0], error: e.message });
    void reply.code(status).type('application/json; charset=utf-8').send(errorPayload(message));
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    const k = known.find((x) => x.pattern.test(path));
    if (k && !k.methods.has(req.method)) {
      const allowed = [...k.methods].filter((m) => m !== 'HEAD');
      return reply.code(405).send(errorPayload(`method ${req.method} not allowed here; use ${allowed.join(' or ')}`));
    }
    const what = path.startsWith('/api/') ? 'API path' : 'page';
    return reply.code(404).send(errorPayload(`no such ${what}: ${path}`));
  });

  const api = typed(app);
  for (const register of ROUTE_MODULES) register(api, ctx, streams);
  await app.ready();
  return { app, streams };
}

function errorPayload(message: string): { error: string } {
  return { error: message };
}

function checkToken(ctx: ApiContext, req: FastifyRequest): void {
  if (!ctx.token) return;
  const header = req.headers.authorization ?? '';
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(ctx.token);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new HttpError(401, 'missing or wrong bearer token (Authorization: Bearer $OUTFLOW_TOKEN)');
  }
}

/** A page on another site may send requests to loopback; a browser then sets Origin to that site. */
function checkOrigin(req: FastifyRequest): void {
  const origin = req.headers.origin;
  if (!origin) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new HttpError(403, 'unreadable Origin header');
  }
  if (host !== req.headers.host) throw new HttpError(403, `requests from ${origin} are not allowed`);
}

/** DNS rebinding: a hostile name resolving to 127.0.0.1 still sends its own name as Host. */
function checkHost(ctx: ApiContext, req: FastifyRequest): void {
  if (!ctx.allowedHosts) return;
  const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
  if (!ctx.allowedHosts.has(host)) throw new HttpError(421, `this server answers to ${[...ctx.allowedHosts].join(', ')}, not ${host || 'no Host'}`);
}
