import { useState } from 'preact/hooks';
import { pipePath, type RunDetail, type RunEvent } from '../api.ts';
import { Badge, ErrorBox, Time } from '../components/common.tsx';
import { CountsGrid, EventLog, RejectedPanel, StageTable } from '../components/run-parts.tsx';
import { ms, num } from '../format.ts';
import { useDebounced, useLiveEvents, useResource } from '../hooks.ts';

export function RunPage({ name, id }: { name: string; id: number }) {
  const path = `${pipePath(name)}/runs/${id}`;
  const run = useResource<RunDetail>(`${path}?rejected_limit=1`);
  const events = useResource<{ events: RunEvent[] }>(`${path}/events`);
  const [tick, setTick] = useState(0);
  const refresh = useDebounced(() => {
    run.reload();
    events.reload();
    setTick((n) => n + 1);
  });
  useLiveEvents((e) => e.pipeline === name && e.runId === id && refresh());
  const r = run.data;
  if (run.error && !r) return run.error.status === 401 ? null : <ErrorBox>{run.error.message}</ErrorBox>;
  if (!r) return <p class="muted">Loading…</p>;
  const pr = r.progress;
  return (
    <>
      <div class="row">
        <h1>
          Run {r.id} of {r.pipeline}
        </h1>
        <Badge status={r.status} />
      </div>
      <p aria-live="polite" id="progress" class="progress">
        {pr ? `Running: ${pr.stage ?? 'starting'}${pr.total ? ` (${num(pr.rows)} of ${num(pr.total)} rows)` : pr.rows ? ` (${num(pr.rows)} rows)` : ''}` : r.status === 'running' ? 'Running' : `Finished: ${r.status}`}
      </p>
      {r.error ? <ErrorBox id="run-error">{r.error}</ErrorBox> : null}
      <dl class="kv panel" id="run-meta">
        <dt>Trigger</dt>
        <dd>{r.trigger}</dd>
        <dt>Started</dt>
        <dd>
          <Time iso={r.startedAt} absolute />
        </dd>
        <dt>Finished</dt>
        <dd data-field="finished">{r.finishedAt ? <Time iso={r.finishedAt} absolute /> : '–'}</dd>
        <dt>Duration</dt>
        <dd>{ms(r.durationMs)}</dd>
        <dt>Mode</dt>
        <dd>{`${r.mode}${r.syncKind ? `, ${r.syncKind} sync` : ''}${r.fullReason ? ` (${r.fullReason})` : ''}`}</dd>
      </dl>
      <h2>Counts</h2>
      <CountsGrid run={r} />
      <h2>Stage timings</h2>
      <StageTable stages={r.stages} />
      <h2>Rejected rows ({num(r.rejected.total)})</h2>
      <RejectedPanel pipeline={name} runId={id} total={r.rejected.total} refreshKey={tick} />
      <h2>Event log</h2>
      {events.data ? <EventLog events={events.data.events} /> : null}
    </>
  );
}
