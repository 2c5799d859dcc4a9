import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { tempDir } from './databases.js';

/**
 * Protocol-faithful stand-ins for what the local Postgres cannot be made to do (it runs
 * without TLS and trusts loopback): a TLS terminator in front of the real server, and a
 * server that asks for a SCRAM password.
 */
export interface StandIn {
  port: number;
  close(): Promise<void>;
}

function listen(server: Server): Promise<StandIn> {
  const open = new Set<Socket>();
  server.on('connection', (s) => {
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  const close = () =>
    new Promise<void>((done) => {
      server.close(() => done());
      for (const s of open) s.destroy();
    });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as { port: number }).port, close })));
}

/** Reads exactly n bytes from a socket in paused mode. */
function readBytes(socket: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tryRead = () => {
      const b = socket.read(n) as Buffer | null;
      if (b) {
        socket.off('readable', tryRead);
        resolve(b);
      }
    };
    socket.on('readable', tryRead);
    socket.once('error', reject);
    tryRead();
  });
}

/**
 * Answers a client's SSLRequest with 'S', does the TLS handshake with a self-signed
 * certificate (made by openssl for this test), and forwards the decrypted stream to the real
 * Postgres at `upstreamPort`.
 */
export async function tlsTerminator(upstreamPort: number): Promise<StandIn> {
  const dir = tempDir('outflow-tls-');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=outflow-stand-in', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'pipe' });
  const key = readFileSync(join(dir, 'key.pem'));
  const cert = readFileSync(join(dir, 'cert.pem'));
  const server = createServer({ pauseOnConnect: false }, async (socket) => {
    socket.on('error', () => undefined);
    const request = await readBytes(socket, 8); // SSLRequest: length 8, code 80877103
    if (request.readInt32BE(4) !== 80877103) return socket.destroy();
    socket.write('S');
    const tls = new TLSSocket(socket, { isServer: true, key, cert });
    const upstream = connect(upstreamPort, '127.0.0.1');
    tls.on('error', () => upstream.destroy());
    upstream.on('error', () => tls.destroy());
    tls.pipe(upstream).pipe(tls);
  });
  return listen(server);
}

function authMessage(code: number, body: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.write('R', 0);
  head.writeInt32BE(8 + body.length, 1);
  head.writeInt32BE(code, 5);
  return Buffer.concat([head, body]);
}

/** A server that, like Postgres with scram-sha-256 in pg_hba.conf, asks every client for a password. */
export async function scramServer(): Promise<StandIn> {
  const server = createServer(async (socket) => {
    socket.on('error', () => undefined);
    const len = (await readBytes(socket, 4)).readInt32BE(0);
    await readBytes(socket, len - 4); // the startup message
    socket.write(authMessage(10, Buffer.from('SCRAM-SHA-256\0\0'))); // AuthenticationSASL
    const type = (await readBytes(socket, 1)).toString();
    const bodyLen = (await readBytes(socket, 4)).readInt32BE(0);
    const body = (await readBytes(socket, bodyLen - 4)).toString('latin1');
    if (type !== 'p') return socket.destroy();
    const nonce = /r=([^,]+)/.exec(body)?.[1] ?? '';
    // AuthenticationSASLContinue with the server-first-message; a client with no password stops here.
    socket.write(authMessage(11, Buffer.from(`r=${nonce}standin,s=${Buffer.from('salt').toString('base64')},i=4096`)));
  });
  return listen(server);
}
