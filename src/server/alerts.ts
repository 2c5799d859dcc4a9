import type { Pipeline } from '../config/load-pipeline.js';
import type { PipelineSpec } from '../config/pipeline-schema.js';
import { redact, redactValue } from '../config/redact.js';
import type { RowCounts, RunResult } from '../state/run-result.js';
import { sleep } from '../engine/retry.js';
import type { ServerLog } from './server-log.js';

export type AlertRule = PipelineSpec['alerts'][number];

export interface AlertPayload {
  pipeline: string;
  run_id: number;
  status: string;
  /** Which rule fired: failure, partial, success, rejected_share or row_count_change. */
  alert: AlertRule['on'];
  counts: RowCounts;
  error: string | null;
  /** The run's page in the web UI. */
  url: string;
  /** A one-line summary; Slack incoming webhooks show this field as the message. */
  text: string;
}

export interface DeliveryOptions {
  attempts: number;
  timeoutMs: number;
  /** Delay before the second attempt; doubles after each failure. */
  backoffMs: number;
}

export const DEFAULT_DELIVERY: DeliveryOptions = { attempts: 3, timeoutMs: 5_000, backoffMs: 1_000 };

/**
 * The rules that fire for a finished run, each with a sentence saying why. `previousRead`
 * is counts.read of the pipeline's previous completed run (success or partial), if any.
 */
export function firedAlerts(p: Pipeline, r: RunResult, previousRead: number | undefined): { rule: AlertRule; why: string }[] {
  const fired: { rule: AlertRule; why: string }[] = [];
  for (const rule of p.spec.alerts) {
    const threshold = rule.threshold ?? 0;
    switch (rule.on) {
      case 'failure':
        if (r.status === 'failed') fired.push({ rule, why: `failed: ${r.error ?? 'unknown error'}` });
        break;
      case 'partial':
        if (r.status === 'partial') fired.push({ rule, why: `finished with ${r.counts.rejected} rejected rows` });
        break;
      case 'success':
        if (r.status === 'success') fired.push({ rule, why: 'succeeded' });
        break;
      case 'rejected_share': {
        // Rows the run tried to deliver: what the diff found added or changed (less what the mode does not send), and retries.
        const attempted = r.counts.added + r.counts.changed - (r.counts.notSent ?? 0) + (r.counts.retried ?? 0);
        const share = attempted > 0 ? r.counts.rejected / attempted : 0;
        if (share > threshold) {
          fired.push({ rule, why: `rejected ${r.counts.rejected} of ${attempted} rows (${percent(share)}, threshold ${percent(threshold)})` });
        }
        break;
      }
      case 'row_count_change': {
        if (previousRead === undefined || (r.status !== 'success' && r.status !== 'partial')) break;
        const change = previousRead === 0 ? (r.counts.read === 0 ? 0 : Infinity) : Math.abs(r.counts.read - previousRead) / previousRead;
        if (change > threshold) {
          fired.push({
            rule,
            why: `read ${r.counts.read} rows, ${previousRead} the run before (${Number.isFinite(change) ? percent(change) : 'from none'} change, threshold ${percent(threshold)})`,
          });
        }
        break;
      }
    }
  }
  return fired;
}

export function alertPayload(r: RunResult, rule: AlertRule, why: string, runUrl: string): AlertPayload {
  const icon = rule.on === 'failure' ? ':x:' : rule.on === 'success' ? ':white_check_mark:' : ':warning:';
  return redactValue({
    pipeline: r.pipeline,
    run_id: r.runId,
    status: r.status,
    alert: rule.on,
    counts: r.counts,
    error: r.error ?? null,
    url: runUrl,
    text: `${icon} outflow pipeline *${r.pipeline}* run ${r.runId} ${why} <${runUrl}|open the run>`,
  });
}

/**
 * POSTs the payload as JSON; retries network errors, timeouts, 429 and 5xx with doubling
 * delays. Never throws: an alert that cannot be delivered is logged, and the run stays as it was.
 */
export async function deliverAlert(webhook: string, payload: AlertPayload, log: ServerLog, opts: DeliveryOptions = DEFAULT_DELIVERY): Promise<boolean> {
  const target = webhookLabel(webhook);
  const body = JSON.stringify(payload);
  for (let attempt = 1; attempt <= opts.attempts; attempt++) {
    let problem: string;
    try {
      const res = await fetch(webhook, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'outflow' },
        body,
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) {
        log.info('alert.sent', { pipeline: payload.pipeline, run: payload.run_id, alert: payload.alert, webhook: target, attempt });
        return true;
      }
      problem = `HTTP ${res.status}`;
      if (res.status < 500 && res.status !== 429) {
        log.error('alert.failed', { pipeline: payload.pipeline, run: payload.run_id, alert: payload.alert, webhook: target, attempt, error: `${problem}; not retried` });
        return false;
      }
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      problem = err.name === 'TimeoutError' ? `no answer within ${opts.timeoutMs} ms` : (err.cause?.code ?? err.message);
    }
    const last = attempt === opts.attempts;
    log[last ? 'error' : 'warn'](last ? 'alert.failed' : 'alert.retry', {
      pipeline: payload.pipeline,
      run: payload.run_id,
      alert: payload.alert,
      webhook: target,
      attempt,
      error: redact(problem),
    });
    if (!last) await sleep(opts.backoffMs * 2 ** (attempt - 1));
  }
  return false;
}

/** Webhook URLs carry their token in the path (Slack, Teams): logs name the host only. */
export function webhookLabel(webhook: string): string {
  try {
    const u = new URL(webhook);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'webhook';
  }
}

function percent(share: number): string {
  return `${Math.round(share * 1000) / 10}%`;
}
