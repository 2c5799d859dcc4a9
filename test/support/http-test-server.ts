import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request as the test server received it. */
export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** Parsed JSON body, when it is JSON. */
  json?: unknown;
  /** When the request had arrived whole (ms, performance.now of this process). */
  at: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** Decides the answer to each request; the default accepts everything with 200. */
export type Handler = (req: ReceivedRequest, n: number) => Answer | Promise<Answer>;

/**
 * An HTTP API written for the tests: it records every request (method, URL, headers,
 * body, arrival time) and answers as the test's handler says. Tests assert on what it
 * received, never on outflow's own report alone.
 */
export interface TestApi {
  url: string;
  received: ReceivedRequest[];
  handle(h: Handler): void;
  /** Answers sent, by request number, with the time the answer was written. */
  answeredAt: Map<number, number>;
  close(): Promise<void>;
}

export async function startTestApi(handler: Handler = () => ({ status: 200, body: { ok: true } })): Promise<TestApi> {
  let handle = handler;
  const received: ReceivedRequest[] = [];
  const answeredAt = new Map<number, number>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = body ? JSON.parse(body) : undefined;
      } catch {
        json = undefined;
      }
      const r: ReceivedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, json, at: performance.now() };
      const n = received.push(r) - 1;
      let answer: Answer;
      try {
        answer = await handle(r, n);
      } catch (e) {
        // A handler throwing `{ destroy: true }` drops the connection without an answer (a reset).
        if ((e as { destroy?: boolean }).destroy) return void req.socket.destroy();
        answer = { status: 500, body: { message: String(e) } };
      }
      const text = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(text, () => answeredAt.set(n, performance.now()));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    answeredAt,
    handle: (h) => {
      handle = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The rows a received JSON-array body carries (or the one object of a per-row request). */
export function rowsOf(r: ReceivedRequest): Record<string, unknown>[] {
  if (Array.isArray(r.json)) return r.json as Record<string, unknown>[];
  if (r.json && typeof r.json === 'object') return [r.json as Record<string, unknown>];
  return [];
}
