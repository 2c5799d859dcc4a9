import { useEffect, useState } from 'preact/hooks';
import { authHeaders, pipePath, type RejectedRows, type RunDetail, type RunEvent } from '../api.ts';
import { useResource } from '../hooks.ts';
import { absoluteTime, keyText, ms, num } from '../format.ts';
import { ErrorBox, Pager } from './common.tsx';

const COUNT_KINDS = ['read', 'added', 'changed', 'removed', 'retried', 'sent', 'inserted', 'updated', 'deleted', 'unchanged', 'rejected', 'stillRejected'] as const;
const COUNT_LABEL: Record<string, string> = { stillRejected: 'still rejected' };

export function CountsGrid({ run }: { run: RunDetail }) {
  const isRunning = run.status === 'running';
  return (
    <div class="counts" id="counts">
      {COUNT_KINDS.map((k) => (
        <div key={k} class={`count ${k}`} data-count={k}>
          {/* Counts arrive as stages finish: unknown ones are "–", not 0. */}
          <div class="v">{isRunning && !run.counts[k] ? '–' : num(run.counts[k] ?? 0)}</div>
          <div class="k">{COUNT_LABEL[k] ?? k}</div>
        </div>
      ))}
    </div>
  );
}

export function StageTable({ stages }: { stages: { stage: string; ms: number }[] }) {
  if (!stages.length) return <p class="muted">No stage finished yet.</p>;
  const max = Math.max(1, ...stages.map((s) => s.ms));
  return (
    <div class="scroll">
      <table id="stages">
        <thead>
          <tr>
            <th>Stage</th>
            <th class="num">Time</th>
            <th class="barcell" aria-hidden="true" />
          </tr>
        </thead>
        <tbody>
          {stages.map((s, i) => (
            <tr key={i}>
              <td>{s.stage}</td>
              <td class="num">{ms(s.ms)}</td>
              <td class="barcell" aria-hidden="true">
                <div class="bar" style={{ width: `${Math.max(0.5, (100 * s.ms) / max)}%` }} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Rejected rows: counted by reason, searchable, paged, and downloadable as CSV. */
export function RejectedPanel({ pipeline, runId, total, refreshKey }: { pipeline: string; runId: number; total: number; refreshKey: unknown }) {
  const [query, setQuery] = useState('');
  const [q, setQ] = useState('');
  const [page, setPage] = useState(0);
  const limit = 50;
  useEffect(() => {
    const t = setTimeout(() => {
      setQ(query);
      setPage(0);
    }, 250);
    return () => clearTimeout(t);
  }, [query]);
  const base = `${pipePath(pipeline)}/runs/${runId}/rejected`;
  const { data, error } = useResource<RejectedRows>(total ? `${base}?q=${encodeURIComponent(q)}&limit=${limit}&offset=${page * limit}` : null, [refreshKey]);
  if (!total) return <p class="muted">None.</p>;
  return (
    <div id="rejected-panel">
      {error ? <ErrorBox>{error.message}</ErrorBox> : null}
      {data ? (
        <table id="rejected-groups">
          <caption class="muted">By reason</caption>
          <thead>
            <tr>
              <th>Column</th>
              <th>Reason</th>
              <th class="num">Rows</th>
            </tr>
          </thead>
          <tbody>
            {data.groups.map((g, i) => (
              <tr key={i}>
                <td>{g.column ?? '–'}</td>
                <td class="error">{g.reason}</td>
                <td class="num">{num(g.count)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <div class="row tools">
        <label for="rejected-search">Search rejected rows</label>
        <input id="rejected-search" type="search" value={query} placeholder="key, column or reason" onInput={(e) => setQuery((e.target as HTMLInputElement).value)} />
        <button class="secondary" data-action="csv" onClick={() => void downloadCsv(`${base}.csv`, `${pipeline}-run-${runId}-rejected.csv`)}>
          Download CSV
        </button>
      </div>
      {data ? (
        <>
          <p class="muted" aria-live="polite">
            {q ? `${num(data.total)} of ${num(total)} rows match “${q}”` : `${num(total)} rows`}
          </p>
          <div class="scroll">
            <table id="rejected">
              <thead>
                <tr>
                  <th>Key</th>
                  <th>Column</th>
                  <th>Reason</th>
                </tr>
              </thead>
              <tbody>
                {data.rows.map((r, i) => (
                  <tr key={i}>
                    <td>{keyText(r.key)}</td>
                    <td>{r.column ?? '–'}</td>
                    <td class="error">{r.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager page={page} limit={limit} total={data.total} go={setPage} />
        </>
      ) : null}
    </div>
  );
}

/** The CSV is fetched with the bearer token (a plain link could not send it), then saved. */
async function downloadCsv(path: string, filename: string): Promise<void> {
  const res = await fetch(path, { headers: authHeaders() });
  if (!res.ok) return;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function EventLog({ events }: { events: RunEvent[] }) {
  if (!events.length) return <p class="muted">No event log: runs started outside `outflow serve` keep only their stage timings (above).</p>;
  return (
    <ol id="events" class="event-log">
      {events.map((e, i) => (
        <li key={i} data-event={e.type}>
          <time dateTime={e.time}>{absoluteTime(e.time)}</time> <strong>{e.type}</strong>
          {e.stage ? ` ${e.stage}` : ''}
          {e.rows !== undefined ? ` · ${num(e.rows)}${e.total ? ` of ${num(e.total)}` : ''} rows` : ''}
          {e.type === 'run.finished' ? ` · ${e.status}` : ''}
          {e.counts ? ` · added ${num(e.counts.added)} · changed ${num(e.counts.changed)} · removed ${num(e.counts.removed)} · retried ${num(e.counts.retried)} · rejected ${num(e.counts.rejected)}` : ''}
          {e.error ? <div class="error small">{e.error}</div> : null}
        </li>
      ))}
    </ol>
  );
}
