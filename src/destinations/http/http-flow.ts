import { STATUS_CODES } from 'node:http';
import Bottleneck from 'bottleneck';
import pRetry from 'p-retry';
import { Agent, request } from 'undici';
import { CancelledError, TransientError } from '../../errors.js';
import { apiMessage, retryAfterMs } from './http-answers.js';
import type { PlannedRequest } from './http-requests.js';

export interface FlowOptions {
  /** Names the API in errors: method and host, never the path (a webhook path is a secret). */
  label: string;
  concurrency: number;
  maxRequestsPerSecond?: number;
  timeoutMs: number;
  /** Retries of one request after a 5xx, a reset or a timeout (the pipeline's retry.attempts - 1). */
  retries: number;
  initialDelayMs: number;
  maxDelayMs: number;
  headers: Record<string, string>;
}

export interface HttpAnswer {
  status: number;
  statusText: string;
  body: string;
}

/** A 429 answered: the request waits out Retry-After (not counted as a retry) and the rate drops. */
class RateLimited extends Error {
  constructor(
    readonly answer: HttpAnswer,
    readonly waitMs: number | undefined,
  ) {
    super(apiMessage(answer.status, answer.statusText, answer.body));
  }
}

/** A 5xx or 408: worth sending again after a pause. */
class ServerFault extends Error {
  constructor(readonly answer: HttpAnswer) {
    super(apiMessage(answer.status, answer.statusText, answer.body));
  }
}

/** How many 429s in a row one request accepts before the run gives up on the API. */
const MAX_RATE_LIMITED = 30;
/** Longest Retry-After honoured; a longer one is a maintenance window, better met by the next scheduled run. */
const MAX_RETRY_AFTER_MS = 10 * 60_000;
/** Slowest spacing a series of 429s can push requests to. */
const MAX_SPACING_MS = 30_000;
/** Successful requests after which a slowed rate is raised again (halving the spacing). */
const CALM_REQUESTS = 10;

/**
 * Sends requests with flow control: `concurrency` in flight and at most
 * `max_requests_per_second` started (Bottleneck: maxConcurrent and minTime spacing);
 * retries with exponential backoff and jitter (p-retry) on 5xx, 408, resets and timeouts;
 * a 429 pauses every request for its Retry-After (seconds or HTTP date) and doubles the
 * spacing between requests, which relaxes again after a run of successes. HTTP itself is
 * undici's, with one keep-alive pool sized to the concurrency.
 */
export class RequestFlow {
  private readonly limiter: Bottleneck;
  private readonly agent: Agent;
  private readonly closing = new AbortController();
  private readonly baseSpacing: number;
  private spacing: number;
  private pausedUntil = 0;
  private resumeTimer?: NodeJS.Timeout;
  private calm = 0;
  /** The longest Retry-After the API asked for during this flow, in ms. */
  lastRetryAfterMs?: number;
  /** Requests actually sent, retries included. */
  sent = 0;

  constructor(private readonly opts: FlowOptions) {
    // 2% over the exact spacing: a timer firing a few ms late must not put one request too many into a second.
    this.baseSpacing = opts.maxRequestsPerSecond ? Math.ceil(1020 / opts.maxRequestsPerSecond) : 0;
    this.spacing = this.baseSpacing;
    this.limiter = new Bottleneck({ maxConcurrent: opts.concurrency, minTime: this.spacing });
    this.agent = new Agent({ connections: opts.concurrency, headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs });
  }

  /**
   * The API's final answer to the request: a 2xx, or a 4xx other than 408/429 for the
   * caller to act on. Throws TransientError when retries run out (the run may be retried,
   * re-sending with the same idempotency keys), CancelledError once the flow is closed.
   */
  async send(req: PlannedRequest): Promise<HttpAnswer> {
    let rateLimited = 0;
    try {
      return await pRetry(
        async () => {
          const answer = await this.limiter.schedule(() => this.once(req));
          if (answer.status === 429) throw new RateLimited(answer, retryAfterMs(answer.headers['retry-after']));
          if (answer.status >= 500 || answer.status === 408) throw new ServerFault(answer);
          this.relax();
          return answer;
        },
        {
          retries: this.opts.retries,
          minTimeout: this.opts.initialDelayMs,
          maxTimeout: this.opts.maxDelayMs,
          factor: 2,
          randomize: true,
          signal: this.closing.signal,
          onFailedAttempt: ({ error, retriesConsumed }) => {
            if (!(error instanceof RateLimited)) return;
            if (++rateLimited > MAX_RATE_LIMITED) throw error;
            const fallback = Math.min(this.opts.maxDelayMs, this.opts.initialDelayMs * 2 ** retriesConsumed);
            this.slowDown(Math.min(MAX_RETRY_AFTER_MS, error.waitMs ?? fallback));
          },
          shouldConsumeRetry: ({ error }) => !(error instanceof RateLimited),
          shouldRetry: ({ error }) => !this.closing.signal.aborted && (error instanceof RateLimited || error instanceof ServerFault || isTransportFault(error)),
        },
      );
    } catch (e) {
      if (this.closing.signal.aborted) throw new CancelledError(`${this.opts.label}: stopped with requests in flight`);
      if (e instanceof RateLimited) {
        throw new TransientError(`${this.opts.label}: the API answered 429 (too many requests) ${rateLimited} times in a row: ${e.message}`);
      }
      if (e instanceof ServerFault || isTransportFault(e)) {
        const what = e instanceof ServerFault ? e.message : describeTransportFault(e, this.opts.timeoutMs);
        throw new TransientError(`${this.opts.label}: ${what} (after ${this.opts.retries + 1} attempts)`, { cause: e });
      }
      throw e;
    }
  }

  private async once(req: PlannedRequest): Promise<HttpAnswer & { headers: Record<string, string | string[] | undefined> }> {
    this.sent++;
    const headers: Record<string, string> = { ...this.opts.headers, 'idempotency-key': req.idempotencyKey };
    if (req.body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await request(req.url, {
      method: req.method,
      headers,
      body: req.body,
      dispatcher: this.agent,
      signal: AbortSignal.any([this.closing.signal, AbortSignal.timeout(this.opts.timeoutMs)]),
    });
    const body = await res.body.text();
    return { status: res.statusCode, statusText: statusText(res.statusCode), body, headers: res.headers };
  }

  /** After a 429: nothing is sent for `ms`, and requests are spaced twice as far apart as before (once per pause). */
  private slowDown(ms: number): void {
    this.lastRetryAfterMs = Math.max(this.lastRetryAfterMs ?? 0, ms);
    this.calm = 0;
    const until = Date.now() + ms;
    if (until <= this.pausedUntil) return; // requests in flight during one pause are one signal, not several
    this.pausedUntil = until;
    this.spacing = Math.min(MAX_SPACING_MS, Math.max(this.spacing * 2, 50));
    // reservoir 0 holds queued requests; null lifts the hold (Bottleneck drains its queue on updateSettings).
    void this.limiter.updateSettings({ reservoir: 0, minTime: this.spacing });
    clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => void this.limiter.updateSettings({ reservoir: null }), ms);
  }

  /** A success: after a run of them, a slowed rate goes back up towards the configured one. */
  private relax(): void {
    if (this.spacing <= this.baseSpacing || ++this.calm < CALM_REQUESTS) return;
    this.calm = 0;
    this.spacing = Math.max(this.baseSpacing, Math.floor(this.spacing / 2));
    void this.limiter.updateSettings({ minTime: this.spacing });
  }

  async close(): Promise<void> {
    this.closing.abort();
    clearTimeout(this.resumeTimer);
    await this.limiter.stop({ dropWaitingJobs: true }).catch(() => undefined);
    await this.agent.destroy().catch(() => undefined);
  }
}

const TRANSPORT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** A reset, a refused connection or a timeout: the request may not have arrived, or its answer was lost. */
function isTransportFault(e: unknown): boolean {
  const err = e as { code?: string; name?: string; cause?: { code?: string } } | undefined;
  return !!err && (TRANSPORT_CODES.has(err.code ?? '') || TRANSPORT_CODES.has(err.cause?.code ?? '') || err.name === 'TimeoutError');
}

function describeTransportFault(e: unknown, timeoutMs: number): string {
  const err = e as { code?: string; name?: string; cause?: { code?: string } };
  if (err.name === 'TimeoutError' || /TIMEOUT/.test(err.code ?? '')) return `no answer within ${timeoutMs} ms (destination.timeout)`;
  return `the connection failed (${err.code ?? err.cause?.code ?? err.name})`;
}

function statusText(status: number): string {
  return STATUS_CODES[status] ?? '';
}
