import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback in front of the real Postgres, for fault-injection tests. It
 * forwards bytes both ways and, when told, injects one fault into the traffic it sees:
 *
 *  - `refuse`:          the next `connections` connections are closed as soon as they arrive
 *  - `blackhole`:       new connections are accepted and never answered (nothing is forwarded)
 *  - `cut-after-bytes`: the first connection to send more than `bytes` bytes client→server is cut
 *                       (both sockets destroyed) right there — with COPY, that is mid-stream
 *  - `cut-on`:          the first connection whose client→server data contains `pattern` is cut,
 *                       `before` forwarding that data (the server never sees it) or `after`
 *                       (the server runs it, the client never hears the answer)
 *  - `stall-on`:        like cut-on/after, but the connection stays open and the server's
 *                       answers are silently dropped from then on (a network that stops delivering)
 *  - `delay`:           every chunk in both directions waits `ms` first
 *
 * A fault fires once (except delay and blackhole, which last until `clear()`); `fired`
 * counts the faults that fired so a test can assert its fault really happened.
 */
export type Fault =
  | { kind: 'refuse'; connections: number }
  | { kind: 'blackhole' }
  | { kind: 'cut-after-bytes'; bytes: number }
  | { kind: 'cut-on'; pattern: string; when: 'before' | 'after' }
  | { kind: 'stall-on'; pattern: string }
  | { kind: 'delay'; ms: number };

interface Link {
  client: Socket;
  server?: Socket;
  sent: number;
  /** Server→client data is dropped. */
  stalled: boolean;
  /** The tail of client→server data, so a pattern split across two chunks is still seen. */
  tail: string;
}

export class TcpProxy {
  private fault?: Fault;
  private refusalsLeft = 0;
  private readonly links = new Set<Link>();
  /** How many times an injected fault fired. */
  fired = 0;
  /** Connections accepted so far. */
  connections = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    let proxy!: TcpProxy;
    const server = createServer((socket) => proxy.accept(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('proxy has no port');
    proxy = new TcpProxy(server, address.port, target);
    return proxy;
  }

  /** The same Postgres URL, pointing at the proxy. */
  urlFor(pgUrl: string): string {
    const u = new URL(pgUrl);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  inject(fault: Fault): void {
    this.fault = fault;
    if (fault.kind === 'refuse') this.refusalsLeft = fault.connections;
  }

  clear(): void {
    this.fault = undefined;
    this.refusalsLeft = 0;
  }

  /** Drops every connection now (a server restart, as the client sees it). */
  cutAll(): void {
    for (const link of this.links) this.cut(link);
  }

  async close(): Promise<void> {
    this.clear();
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.connections++;
    client.on('error', () => undefined);
    const f = this.fault;
    if (f?.kind === 'refuse' && this.refusalsLeft > 0) {
      this.refusalsLeft--;
      if (this.refusalsLeft === 0) this.fault = undefined;
      this.fired++;
      client.destroy();
      return;
    }
    const link: Link = { client, sent: 0, stalled: false, tail: '' };
    this.links.add(link);
    client.on('close', () => this.cut(link));
    if (f?.kind === 'blackhole') {
      this.fired++;
      // Accept and keep reading so the client's writes succeed, but never connect upstream.
      client.on('data', () => undefined);
      return;
    }
    const server = connect(this.target.port, this.target.host);
    link.server = server;
    server.on('error', () => this.cut(link));
    server.on('close', () => this.cut(link));
    client.pause();
    server.on('connect', () => client.resume());
    client.on('data', (chunk: Buffer) => this.later(() => this.fromClient(link, chunk)));
    server.on('data', (chunk: Buffer) =>
      this.later(() => {
        if (!link.stalled && !client.destroyed) client.write(chunk);
      }),
    );
  }

  private later(fn: () => void): void {
    if (this.fault?.kind === 'delay') setTimeout(fn, this.fault.ms);
    else fn();
  }

  private fromClient(link: Link, chunk: Buffer): void {
    if (!link.server || link.server.destroyed) return;
    const f = this.fault;
    link.sent += chunk.length;
    const text = link.tail + chunk.toString('latin1');
    link.tail = text.slice(-256);
    if (f?.kind === 'cut-after-bytes' && link.sent > f.bytes) {
      this.fire();
      // Forward only the bytes up to the limit, so the server sees a stream that stops mid-row.
      const keep = chunk.length - (link.sent - f.bytes);
      if (keep > 0) link.server.write(chunk.subarray(0, keep), () => this.cut(link));
      else this.cut(link);
      return;
    }
    if ((f?.kind === 'cut-on' || f?.kind === 'stall-on') && text.includes(f.pattern)) {
      this.fire();
      if (f.kind === 'cut-on' && f.when === 'before') return this.cut(link);
      link.server.write(chunk);
      if (f.kind === 'stall-on') {
        link.stalled = true;
        return;
      }
      // Give the server time to receive and act on the statement, then cut before its answer arrives.
      link.stalled = true;
      setTimeout(() => this.cut(link), 200);
      return;
    }
    link.server.write(chunk);
  }

  private fire(): void {
    this.fired++;
    this.fault = undefined;
  }

  private cut(link: Link): void {
    if (!this.links.delete(link)) return;
    link.client.destroy();
    link.server?.destroy();
  }
}
