import type { Pipeline } from '../api.ts';
import { Badge, ErrorBox, Link, pipeHref, runHref, Time } from '../components/common.tsx';
import { RunNowButton } from '../components/pipeline-parts.tsx';
import { fileText, num, pipelineState, scheduleText } from '../format.ts';
import { useDebounced, useLiveEvents, useResource } from '../hooks.ts';

export function PipelinesPage() {
  const { data, error, reload } = useResource<{ pipelines: Pipeline[] }>('/api/pipelines');
  const refresh = useDebounced(reload);
  useLiveEvents(refresh);
  if (error && !data) return error.status === 401 ? null : <ErrorBox>{error.message}</ErrorBox>;
  if (!data) return <p class="muted">Loading…</p>;
  const running = data.pipelines.filter((p) => p.running);
  return (
    <>
      <h1>Pipelines</h1>
      <p class="muted">
        {data.pipelines.length} pipeline{data.pipelines.length === 1 ? '' : 's'} loaded
      </p>
      <p class="sr-status" aria-live="polite" id="live-status">
        {running.map((p) => `${p.name} running${p.running?.stage ? `: ${p.running.stage}` : ''}`).join('; ')}
      </p>
      <div class="scroll">
        <table id="pipelines" class="cards">
          <thead>
            <tr>
              <th>Pipeline</th>
              <th>Status</th>
              <th>Last run</th>
              <th>Next run</th>
              <th>Destination</th>
              <th>
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {data.pipelines.map((p) => (
              <tr key={p.name} data-pipeline={p.name}>
                <td data-label="Pipeline">
                  <Link href={pipeHref(p.name)}>{p.name}</Link>
                  <div class="muted small">{fileText(p)}</div>
                  {p.description ? <div class="muted">{p.description}</div> : null}
                  {p.valid ? null : <div class="error">{p.error}</div>}
                </td>
                <td data-label="Status" class="nowrap">
                  <Badge status={pipelineState(p)} />
                  {p.paused ? <Badge status="paused" /> : null}
                </td>
                <td data-label="Last run">
                  {p.lastRun ? (
                    <>
                      <Link href={runHref(p.name, p.lastRun.id)}>{`run ${p.lastRun.id}`}</Link> <Time iso={p.lastRun.startedAt} />
                      <div class="muted small" data-counts>
                        {p.lastRun.status === 'running'
                          ? 'counts when it finishes'
                          : p.lastRun.status === 'failed' || p.lastRun.status === 'cancelled'
                            ? // What the diff found was not delivered: say what the destination really did.
                              `written: inserted ${num(p.lastRun.counts.inserted ?? 0)} · updated ${num(p.lastRun.counts.updated ?? 0)} · deleted ${num(p.lastRun.counts.deleted ?? 0)}`
                            : `added ${num(p.lastRun.counts.added ?? 0)} · changed ${num(p.lastRun.counts.changed ?? 0)} · removed ${num(p.lastRun.counts.removed ?? 0)} · rejected ${num(p.lastRun.counts.rejected ?? 0)}`}
                      </div>
                    </>
                  ) : (
                    '–'
                  )}
                </td>
                <td data-label="Next run" class="nowrap">
                  {p.paused ? 'paused' : p.nextRun ? <Time iso={p.nextRun} /> : '–'}
                  <div class="muted small">{p.valid ? scheduleText(p.schedule) : ''}</div>
                </td>
                <td data-label="Destination" class="break">
                  <span class="muted">{p.destination}</span>
                </td>
                <td data-label="">
                  <RunNowButton p={p} onDone={reload} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
