import { basename } from 'node:path';
import { redactValue } from '../config/redact.js';
import { destinationLabel } from '../destinations/destination-configs.js';
import type { CatalogEntry } from './pipeline-catalog.js';
import { scheduleOf, type ScheduleInfo } from './scheduler.js';
import { webhookLabel } from './alerts.js';

/** A pipeline as the API shows it: what the UI draws, and nothing that could hold a secret. */
export interface PipelineSummary {
  name: string;
  file: string;
  valid: boolean;
  error?: string;
  description?: string;
  source?: { type: string; model: string };
  destination?: string;
  mode?: string;
  primaryKey?: string[];
  actions?: Record<'before' | 'after' | 'on_success' | 'on_failure', { name: string; on: string }[]>;
  schedule?: ScheduleInfo;
  alerts?: { on: string; threshold?: number; webhook: string }[];
}

export function summarizePipeline(e: CatalogEntry): PipelineSummary {
  const file = basename(e.file);
  if (!e.pipeline) return { name: e.name, file, valid: false, error: e.error };
  const { spec } = e.pipeline;
  const model = 'table' in spec.model ? `table ${spec.model.table}` : `query: ${oneLine(spec.model.query)}`;
  const actionsOf = (list: { name: string; on: string }[]) => list.map((a) => ({ name: a.name, on: a.on }));
  return redactValue({
    name: e.name,
    file,
    valid: true,
    description: spec.description,
    source: { type: spec.source.type, model },
    destination: destinationLabel(e.pipeline.spec.destination),
    mode: spec.mode,
    primaryKey: spec.primary_key,
    actions: {
      before: actionsOf(spec.actions.before),
      after: actionsOf(spec.actions.after),
      on_success: actionsOf(spec.actions.on_success),
      on_failure: actionsOf(spec.actions.on_failure),
    },
    schedule: scheduleOf(e.pipeline),
    alerts: spec.alerts.map((a) => ({ on: a.on, threshold: a.threshold, webhook: webhookLabel(a.webhook) })),
  });
}

function oneLine(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  return s.length > 120 ? `${s.slice(0, 117)}…` : s;
}
