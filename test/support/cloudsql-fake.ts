/**
 * Local stand-ins for what Google's Cloud SQL connector talks to, so the unmodified
 * connector can be tested here (no Cloud SQL emulator exists):
 *
 * - the Cloud SQL Admin API (sqladmin v1beta4) on 127.0.0.1, reached through the connector's
 *   `sqlAdminAPIEndpoint` option (outflow's `cloudsql.admin_api_endpoint`): `connectSettings`
 *   answers with the instance's address and a server CA this file generates, and
 *   `generateEphemeralCert` signs the public key the client sent with that CA;
 * - Google's token endpoint: Application Default Credentials come from a credentials file
 *   (GOOGLE_APPLICATION_CREDENTIALS) of type `external_account` whose `token_url` points
 *   here. A `service_account` key cannot be used: google-auth-library sends its token
 *   request to a fixed oauth2.googleapis.com address;
 * - the instance itself: a TLS 1.3 listener on port 3307 (the connector always dials 3307)
 *   that presents a server certificate signed by the fake CA, requires a client certificate
 *   signed by it, and pipes to the local Postgres or MariaDB. It binds a loopback address of
 *   its own (127.x.y.z), so it never collides with anything else on 127.0.0.1:3307.
 *   For Postgres it plays Cloud SQL's login: a client certificate issued with an IAM access
 *   token logs in the IAM user with no password; otherwise the listener asks for the
 *   password (cleartext, inside the TLS session) and refuses a wrong one.
 *
 * Every request and every connection is logged for the tests to assert on.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readBody } from './read-body.js';
// Google APIs share one JSON error envelope.
import { errorEnvelope } from './bigquery-fake-wire.js';
import { createPublicKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';

export interface FakeInstanceOptions {
  /** `project:region:instance` */
  name: string;
  /** Where the listener pipes: the local Postgres or MariaDB. */
  engine: 'postgres' | 'mysql';
  upstream?: { host: string; port: number };
  /** Postgres password login: the password the listener accepts. */
  password?: string;
  /** Postgres IAM login: the user a certificate issued with an access token may log in as. */
  iamUser?: string;
  /** The address types connectSettings reports; default only a public one. */
  ipTypes?: ('PRIMARY' | 'PRIVATE')[];
  /** Report the instance but start no listener (an unreachable instance). */
  isUnreachable?: boolean;
}

export interface AdminRequest {
  method: string;
  path: string;
  /** connectSettings | generateEphemeralCert | token | unknown */
  kind: string;
  instance?: string;
  authorization?: string;
  body: Record<string, unknown> | undefined;
  status: number;
}

export interface InstanceConnection {
  instance: string;
  /** The client certificate chained to the fake CA (the TLS server refuses any other). */
  isClientCertTrusted: boolean;
  clientCertIssuer: string;
  /** The client certificate's public key, SPKI PEM. */
  clientPublicKey: string;
  /** Postgres only: what the login saw. */
  user?: string;
  database?: string;
  login?: 'iam' | 'password';
  /** Whether a password message was received (never the password itself). */
  isPasswordSent?: boolean;
  /** Postgres only: the SQL text of each Query and Parse message the client sent. */
  statements: string[];
}

interface Instance extends FakeInstanceOptions {
  address: string;
  serverKeyPem: string;
  serverCertPem: string;
  listener?: TlsServer;
}

interface Refusal {
  status: number;
  reason: string;
  message: string;
  details?: unknown[];
}

const CONNECTOR_PORT = 3307;

export class CloudSqlFake {
  readonly requests: AdminRequest[] = [];
  readonly connections: InstanceConnection[] = [];
  readonly caCertPem: string;
  private readonly caKey: forge.pki.rsa.PrivateKey;
  private readonly caCert: forge.pki.Certificate;
  private readonly instances = new Map<string, Instance>();
  /** Public keys (normalized PEM) of ephemeral certificates issued with an IAM access token. */
  private readonly iamKeys = new Set<string>();
  private readonly tokens = new Set<string>();
  private refusal: Refusal | undefined;
  /** Open instance connections: close() ends them, or the listener would wait for idle pools. */
  private readonly sockets = new Set<TLSSocket>();
  private readonly dir: string;
  /** GOOGLE_APPLICATION_CREDENTIALS for the connector. */
  readonly credentialsFile: string;
  readonly endpoint: string;

  private constructor(private readonly http: Server) {
    const { port } = http.address() as AddressInfo;
    this.endpoint = `http://127.0.0.1:${port}`;
    const ca = makeKeyPair();
    this.caKey = ca.privateKey;
    this.caCert = signCertificate({ subject: 'outflow test Cloud SQL server CA', publicKey: ca.publicKey, issuer: undefined, signer: ca.privateKey, isCa: true });
    this.caCertPem = forge.pki.certificateToPem(this.caCert);
    this.dir = mkdtempSync(join(tmpdir(), 'outflow-cloudsql-'));
    const subjectToken = join(this.dir, 'subject-token');
    writeFileSync(subjectToken, `fake-oidc-${randomBytes(8).toString('hex')}`);
    this.credentialsFile = join(this.dir, 'credentials.json');
    writeFileSync(
      this.credentialsFile,
      JSON.stringify({
        type: 'external_account',
        audience: '//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/outflow-test/providers/fake',
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        token_url: `${this.endpoint}/v1/token`,
        // google-auth-library looks the project up by the audience's project number here.
        cloud_resource_manager_url: `${this.endpoint}/v1/projects/`,
        credential_source: { file: subjectToken },
      }),
    );
  }

  static async start(): Promise<CloudSqlFake> {
    let fake: CloudSqlFake | undefined;
    const http = createServer((req, res) => void fake!.handle(req, res));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    fake = new CloudSqlFake(http);
    return fake;
  }

  /** Registers an instance and starts its listener; returns the loopback address it dials. */
  async addInstance(opts: FakeInstanceOptions): Promise<string> {
    const [project, , name] = splitName(opts.name);
    const key = makeKeyPair();
    // Cloud SQL's server certificates carry "project:instance" as CN; the connector checks it.
    const cert = signCertificate({ subject: `${project}:${name}`, publicKey: key.publicKey, issuer: this.caCert, signer: this.caKey, isCa: false });
    const instance: Instance = {
      ...opts,
      address: '',
      serverKeyPem: forge.pki.privateKeyToPem(key.privateKey),
      serverCertPem: forge.pki.certificateToPem(cert),
    };
    if (opts.isUnreachable) instance.address = randomLoopback();
    else await this.listen(instance);
    this.instances.set(opts.name, instance);
    return instance.address;
  }

  /** The next Admin API calls (not token requests) answer with this error, as Google words it. */
  refuseWith(refusal: Refusal | undefined): void {
    this.refusal = refusal;
  }

  adminRequests(kind?: string): AdminRequest[] {
    return this.requests.filter((r) => (kind ? r.kind === kind : r.kind === 'connectSettings' || r.kind === 'generateEphemeralCert'));
  }

  /** The environment the connector needs: only the credentials file. */
  env(): Record<string, string> {
    return { GOOGLE_APPLICATION_CREDENTIALS: this.credentialsFile };
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    for (const i of this.instances.values()) {
      await new Promise<void>((resolve) => (i.listener ? i.listener.close(() => resolve()) : resolve()));
    }
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async listen(instance: Instance): Promise<void> {
    const listener = createTlsServer(
      {
        key: instance.serverKeyPem,
        cert: instance.serverCertPem,
        ca: [this.caCertPem],
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.3',
      },
      (socket) => void this.serve(instance, socket),
    );
    listener.on('tlsClientError', () => undefined);
    for (let attempt = 0; ; attempt++) {
      const address = randomLoopback();
      try {
        await new Promise<void>((resolve, reject) => {
          listener.once('error', reject);
          listener.listen(CONNECTOR_PORT, address, () => {
            listener.off('error', reject);
            resolve();
          });
        });
        instance.address = address;
        instance.listener = listener;
        return;
      } catch (e) {
        if (attempt >= 5) throw new Error(`cannot listen on a loopback address at port ${CONNECTOR_PORT}: ${(e as Error).message}`);
      }
    }
  }

  private async serve(instance: Instance, socket: TLSSocket): Promise<void> {
    socket.on('error', () => undefined);
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    const peer = socket.getPeerX509Certificate();
    const clientPublicKey = peer ? normalizeKey(peer.publicKey.export({ type: 'spki', format: 'pem' }) as string) : '';
    const conn: InstanceConnection = {
      instance: instance.name,
      isClientCertTrusted: socket.authorized && !!peer?.checkIssued(new X509Certificate(this.caCertPem)),
      clientCertIssuer: peer?.issuer ?? '',
      clientPublicKey,
      statements: [],
    };
    this.connections.push(conn);
    const upstreamAt = instance.upstream ?? (instance.engine === 'postgres' ? { host: '127.0.0.1', port: 5432 } : { host: '127.0.0.1', port: 3306 });
    let login: { startup: Buffer; rest: Buffer } | undefined;
    if (instance.engine === 'postgres') {
      login = await this.postgresLogin(instance, socket, conn).catch(() => undefined);
      if (!login) return;
    }
    const upstream: Socket = netConnect(upstreamAt.port, upstreamAt.host);
    upstream.on('error', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
    if (login) {
      upstream.write(Buffer.concat([login.startup, login.rest]));
      tapStatements(socket, login.rest, conn.statements);
    }
    socket.pipe(upstream);
    upstream.pipe(socket);
  }

  /**
   * Reads the client's StartupMessage and logs it in as Cloud SQL would: IAM when the
   * certificate was issued with an access token, else by password. Returns the bytes to
   * replay to the real Postgres (which trusts local connections), or undefined if refused.
   */
  private async postgresLogin(instance: Instance, socket: TLSSocket, conn: InstanceConnection): Promise<{ startup: Buffer; rest: Buffer } | undefined> {
    const reader = new ByteReader(socket);
    const len = (await reader.read(4)).readInt32BE(0);
    const startupBody = await reader.read(len - 4);
    const startup = Buffer.concat([int32(len), startupBody]);
    const params = startupBody.subarray(4).toString('utf8').split('\0');
    for (let i = 0; i + 1 < params.length; i += 2) {
      if (params[i] === 'user') conn.user = params[i + 1];
      if (params[i] === 'database') conn.database = params[i + 1];
    }
    conn.isPasswordSent = false;
    const refuse = (code: string, message: string) => {
      socket.end(errorResponse(code, message));
      reader.detach();
      return undefined;
    };
    if (this.iamKeys.has(conn.clientPublicKey)) {
      conn.login = 'iam';
      if (conn.user !== instance.iamUser) return refuse('28000', `Cloud SQL IAM user authentication failed for user "${conn.user}"`);
    } else {
      conn.login = 'password';
      socket.write(Buffer.concat([Buffer.from('R'), int32(8), int32(3)])); // AuthenticationCleartextPassword
      const type = (await reader.read(1)).toString();
      const body = await reader.read((await reader.read(4)).readInt32BE(0) - 4);
      conn.isPasswordSent = type === 'p';
      const password = body.subarray(0, body.length - 1).toString('utf8');
      if (type !== 'p' || instance.password === undefined || password !== instance.password) {
        return refuse('28P01', `password authentication failed for user "${conn.user}"`);
      }
    }
    return { startup, rest: reader.detach() };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.endpoint);
    const text = await readBody(req);
    const entry: AdminRequest = { method: req.method ?? 'GET', path: url.pathname, kind: 'unknown', authorization: req.headers.authorization, body: undefined, status: 0 };
    this.requests.push(entry);
    const reply = (status: number, body: unknown) => {
      entry.status = status;
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/v1/token' && req.method === 'POST') {
      entry.kind = 'token';
      const form = Object.fromEntries(new URLSearchParams(text));
      entry.body = { grant_type: form.grant_type, scope: form.scope };
      const token = `ya29.fake-cloudsql-${randomBytes(12).toString('hex')}`;
      this.tokens.add(token);
      return reply(200, { access_token: token, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: 3600 });
    }
    if (url.pathname === '/v1/projects/123' && req.method === 'GET') {
      entry.kind = 'projects.get';
      return reply(200, { projectNumber: '123', projectId: 'outflow-test', lifecycleState: 'ACTIVE' });
    }
    entry.body = text ? JSON.parse(text) : undefined;
    const m = /^\/sql\/v1beta4\/projects\/([^/]+)\/instances\/([^/:]+)(\/connectSettings|:generateEphemeralCert)$/.exec(url.pathname);
    if (!m) return reply(404, errorEnvelope(404, 'notFound', `fake Cloud SQL Admin API does not serve ${req.method} ${url.pathname}`));
    const [, project, instanceId, op] = m;
    entry.kind = op === '/connectSettings' ? 'connectSettings' : 'generateEphemeralCert';
    const bearer = /^Bearer (.+)$/.exec(entry.authorization ?? '')?.[1];
    if (!bearer || !this.tokens.has(bearer)) {
      return reply(401, errorEnvelope(401, 'authError', 'Request had invalid authentication credentials. Expected OAuth 2 access token.'));
    }
    if (this.refusal) {
      const r = this.refusal;
      return reply(r.status, { error: { ...errorEnvelope(r.status, r.reason, r.message).error, ...(r.details ? { details: r.details } : {}) } });
    }
    const instance = [...this.instances.values()].find((i) => {
      const [p, , n] = splitName(i.name);
      return p === decodeURIComponent(project) && n === instanceId;
    });
    entry.instance = instance?.name ?? `${decodeURIComponent(project)}:?:${instanceId}`;
    if (!instance) return reply(404, errorEnvelope(404, 'instanceDoesNotExist', 'The Cloud SQL instance does not exist.'));
    if (entry.kind === 'connectSettings') return reply(200, this.connectSettings(instance));
    const body = entry.body as { public_key?: string; access_token?: string };
    if (!body?.public_key) return reply(400, errorEnvelope(400, 'invalid', 'Missing public_key.'));
    if (body.access_token !== undefined && !this.tokens.has(body.access_token)) {
      return reply(400, errorEnvelope(400, 'invalid', 'Invalid access_token.'));
    }
    const publicKey = normalizeKey(body.public_key);
    if (body.access_token) this.iamKeys.add(publicKey);
    const cert = signCertificate({
      subject: 'outflow test ephemeral client',
      publicKey: forge.pki.publicKeyFromPem(body.public_key),
      issuer: this.caCert,
      signer: this.caKey,
      isCa: false,
    });
    return reply(200, { ephemeralCert: { kind: 'sql#sslCert', cert: forge.pki.certificateToPem(cert), certSerialNumber: cert.serialNumber } });
  }

  private connectSettings(instance: Instance): unknown {
    const [, region] = splitName(instance.name);
    const types = instance.ipTypes ?? ['PRIMARY'];
    return {
      kind: 'sql#connectSettings',
      serverCaCert: {
        kind: 'sql#sslCert',
        cert: this.caCertPem,
        certSerialNumber: this.caCert.serialNumber,
        commonName: 'outflow test Cloud SQL server CA',
        expirationTime: this.caCert.validity.notAfter.toISOString(),
        instance: splitName(instance.name)[2],
      },
      ipAddresses: types.map((type) => ({ type, ipAddress: instance.address })),
      region,
      databaseVersion: instance.engine === 'postgres' ? 'POSTGRES_15' : 'MYSQL_8_0',
      backendType: 'SECOND_GEN',
      pscEnabled: false,
      serverCaMode: 'GOOGLE_MANAGED_INTERNAL_CA',
    };
  }
}

/** The public key as SPKI PEM with normalized line breaks, for comparing. */
export function normalizeKey(pem: string): string {
  return createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString().trim();
}

function splitName(name: string): [project: string, region: string, instance: string] {
  const parts = name.split(':');
  const instance = parts.pop()!;
  const region = parts.pop()!;
  return [parts.join(':'), region, instance];
}

function randomLoopback(): string {
  const b = randomBytes(3);
  return `127.${1 + (b[0] % 250)}.${b[1]}.${1 + (b[2] % 250)}`;
}

function makeKeyPair(): { publicKey: forge.pki.rsa.PublicKey; privateKey: forge.pki.rsa.PrivateKey } {
  // Node's key generation is native; node-forge's pure-JS RSA keygen takes seconds.
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    privateKey: forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()),
  };
}

let serial = 1;

function signCertificate(opts: {
  subject: string;
  publicKey: forge.pki.rsa.PublicKey;
  issuer: forge.pki.Certificate | undefined;
  signer: forge.pki.rsa.PrivateKey;
  isCa: boolean;
}): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = opts.publicKey;
  cert.serialNumber = (0x1000 + serial++).toString(16);
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + (opts.isCa ? 24 : 1) * 3_600_000);
  const subject = [{ name: 'commonName', value: opts.subject }];
  cert.setSubject(subject);
  cert.setIssuer(opts.issuer ? opts.issuer.subject.attributes : subject);
  cert.setExtensions(opts.isCa ? [{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true }] : [{ name: 'basicConstraints', cA: false }]);
  cert.sign(opts.signer, forge.md.sha256.create());
  return cert;
}

/**
 * Records the SQL of each Query ('Q') and Parse ('P') message on a Postgres client stream
 * after the login; a second 'data' listener beside the pipe, so nothing is held back.
 */
function tapStatements(socket: Socket, first: Buffer, statements: string[]): void {
  let pending = Buffer.alloc(0);
  const take = (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 5) {
      const len = pending.readInt32BE(1);
      if (pending.length < len + 1) break;
      const type = String.fromCharCode(pending[0]);
      const body = pending.subarray(5, len + 1);
      if (type === 'Q') statements.push(body.subarray(0, body.indexOf(0)).toString('utf8'));
      if (type === 'P') {
        const afterName = body.indexOf(0) + 1;
        statements.push(body.subarray(afterName, body.indexOf(0, afterName)).toString('utf8'));
      }
      pending = pending.subarray(len + 1);
    }
  };
  take(first);
  socket.on('data', take);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
}

/** A Postgres ErrorResponse, FATAL. */
function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`, 'utf8');
  return Buffer.concat([Buffer.from('E'), int32(fields.length + 4), fields]);
}

/** Reads exact byte counts from a socket until detached; detach() hands back what was read ahead. */
class ByteReader {
  private buffered = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private isEnded = false;
  private readonly onData = (d: Buffer) => {
    this.buffered = Buffer.concat([this.buffered, d]);
    this.waiter?.();
  };
  private readonly onEnd = () => {
    this.isEnded = true;
    this.waiter?.();
  };

  constructor(private readonly socket: Socket) {
    socket.on('data', this.onData);
    socket.on('close', this.onEnd);
  }

  async read(n: number): Promise<Buffer> {
    while (this.buffered.length < n) {
      if (this.isEnded) throw new Error('connection closed');
      await new Promise<void>((resolve) => (this.waiter = resolve));
      this.waiter = undefined;
    }
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }

  detach(): Buffer {
    this.socket.off('data', this.onData);
    this.socket.off('close', this.onEnd);
    this.socket.pause();
    return this.buffered;
  }
}
