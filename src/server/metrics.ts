import { TOTALLED_COUNTS } from '../state/history.js';
import type { HistoryStores } from './history-stores.js';
import type { CatalogEntry } from './pipeline-catalog.js';
import type { RunManager } from './run-manager.js';

const ROW_KINDS = TOTALLED_COUNTS;
/** Prometheus label values are snake_case. */
const KIND_LABEL: Record<(typeof ROW_KINDS)[number], string> = { ...Object.fromEntries(ROW_KINDS.map((k) => [k, k])), stillRejected: 'still_rejected' } as Record<(typeof ROW_KINDS)[number], string>;

/**
 * /metrics in the Prometheus text format (version 0.0.4). Counters are read from the run
 * history, so they include runs started from the CLI and survive a restart of `serve`.
 */
export async function renderMetrics(entries: CatalogEntry[], manager: RunManager, stores: HistoryStores): Promise<string> {
  const families = {
    runs: family('outflow_runs_total', 'counter', 'Runs recorded in the history, by final status.'),
    rows: family('outflow_rows_total', 'counter', 'Rows over all runs, by kind (read, added, changed, removed, sent, inserted, updated, deleted, unchanged, rejected, retried, still_rejected).'),
    rejected: family('outflow_rejected_rows_total', 'counter', 'Rows the destination refused, over all runs; a row refused again on a retry is not counted twice.'),
    duration: family('outflow_run_duration_seconds', 'summary', 'Run duration over finished runs.'),
    lastDuration: family('outflow_last_run_duration_seconds', 'gauge', 'Duration of the most recent finished run.'),
    lastRun: family('outflow_last_run_timestamp_seconds', 'gauge', 'Start time of the most recent run (Unix seconds).'),
    lastSuccess: family('outflow_last_run_success', 'gauge', '1 when the most recent finished run succeeded (success), else 0.'),
    running: family('outflow_pipeline_running', 'gauge', '1 while this server runs the pipeline.'),
    valid: family('outflow_pipeline_valid', 'gauge', '1 when the pipeline file loaded, 0 when it is invalid.'),
  };
  for (const e of entries) {
    const pipeline = { pipeline: e.name };
    families.valid.add(pipeline, e.pipeline ? 1 : 0);
    if (!e.pipeline) continue;
    families.running.add(pipeline, manager.running(e.name) ? 1 : 0);
    const history = await stores.get(e.pipeline);
    let rejected = 0;
    let durationSum = 0;
    let finished = 0;
    const rows = Object.fromEntries(ROW_KINDS.map((k) => [k, 0])) as Record<(typeof ROW_KINDS)[number], number>;
    for (const t of await history.runTotals(e.name)) {
      families.runs.add({ ...pipeline, status: t.status }, t.runs);
      for (const k of ROW_KINDS) rows[k] += Number(t.counts[k] ?? 0);
      rejected += Number(t.counts.rejected ?? 0) - Number(t.counts.stillRejected ?? 0);
      if (t.status !== 'running' && t.status !== 'skipped') {
        durationSum += t.durationMs / 1000;
        finished += t.runs;
      }
    }
    for (const k of ROW_KINDS) families.rows.add({ ...pipeline, kind: KIND_LABEL[k] }, rows[k]);
    families.rejected.add(pipeline, rejected);
    families.duration.addRaw(`outflow_run_duration_seconds_sum${labels(pipeline)} ${durationSum}`);
    families.duration.addRaw(`outflow_run_duration_seconds_count${labels(pipeline)} ${finished}`);
    const recent = await history.listRuns(e.name, 20);
    const last = recent.find((r) => r.status !== 'running' && r.status !== 'skipped');
    const latest = recent[0];
    if (latest) families.lastRun.add(pipeline, Math.floor(Date.parse(latest.startedAt) / 1000));
    if (last) {
      families.lastDuration.add(pipeline, (last.durationMs ?? 0) / 1000);
      families.lastSuccess.add(pipeline, last.status === 'success' ? 1 : 0);
    }
  }
  return Object.values(families).map((f) => f.text()).join('');
}

function family(name: string, type: string, help: string) {
  const lines: string[] = [];
  return {
    add(l: Record<string, string>, value: number) {
      lines.push(`${name}${labels(l)} ${value}`);
    },
    addRaw(line: string) {
      lines.push(line);
    },
    text() {
      return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${lines.map((l) => l + '\n').join('')}`;
    },
  };
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}
