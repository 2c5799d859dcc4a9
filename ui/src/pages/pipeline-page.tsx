import type { ConfigText, Pipeline, RunList } from '../api.ts';
import { pipePath } from '../api.ts';
import { Badge, ErrorBox, Link, Pager, runHref, Time } from '../components/common.tsx';
import { ConfigView, FlowGraph, PauseButton, PreviewPanel, RowsChart, RunNowButton, RunTable } from '../components/pipeline-parts.tsx';
import { fileText, pipelineState, scheduleText } from '../format.ts';
import { navigate, useDebounced, useLiveEvents, useResource } from '../hooks.ts';

export function PipelinePage({ name, page }: { name: string; page: number }) {
  const limit = 20;
  const base = pipePath(name);
  const pipe = useResource<Pipeline>(base);
  const p = pipe.data;
  // History exists only for a valid pipeline: an invalid one shows its file and error instead.
  const runs = useResource<RunList>(p?.valid ? `${base}/runs?limit=${limit}&offset=${page * limit}` : null);
  const recent = useResource<RunList>(p?.valid ? `${base}/runs?limit=40` : null);
  const config = useResource<ConfigText>(`${base}/config`);
  const reloadAll = () => {
    pipe.reload();
    runs.reload();
    recent.reload();
  };
  const refresh = useDebounced(reloadAll);
  useLiveEvents((e) => e.pipeline === name && refresh());

  if (pipe.error && !p) return pipe.error.status === 401 ? null : <ErrorBox>{pipe.error.message}</ErrorBox>;
  if (!p) return <p class="muted">Loading…</p>;
  return (
    <>
      <div class="row">
        <h1>{p.name}</h1>
        <Badge status={pipelineState(p)} />
        {p.paused ? <Badge status="paused" /> : null}
        <span class="spacer" />
        {p.valid ? <PauseButton p={p} onDone={reloadAll} /> : null}
        {p.valid ? <RunNowButton p={p} onDone={reloadAll} /> : null}
      </div>
      {p.description ? <p class="muted">{p.description}</p> : null}
      {p.valid ? (
        <p class="muted" id="pipeline-meta">
          {fileText(p)} · mode {p.mode} · key {p.primaryKey?.join(', ')} · {scheduleText(p.schedule)}
          {p.paused ? ' · schedule paused' : p.nextRun ? ' · next run ' : ''}
          {!p.paused && p.nextRun ? <Time iso={p.nextRun} /> : null}
        </p>
      ) : (
        <ErrorBox id="pipeline-error">
          {p.error}
          {p.errorLine ? <div class="small">Line {p.errorLine} is marked in the file below.</div> : null}
        </ErrorBox>
      )}
      <p aria-live="polite" id="progress" class="progress">
        {p.running ? (
          <>
            Run <Link href={runHref(p.name, p.running.runId)}>{String(p.running.runId)}</Link> is going: {p.running.stage ?? 'starting'}
          </>
        ) : p.runningElsewhere ? (
          `Running elsewhere: another process (outflow run) holds this pipeline${p.runningElsewhere.runId ? ` with run ${p.runningElsewhere.runId}` : ''} since ${p.runningElsewhere.since}.`
        ) : null}
      </p>
      {p.valid ? (
        <>
          <h2>Flow</h2>
          <FlowGraph p={p} />
          <PreviewPanel p={p} />
          <h2>Rows per run</h2>
          <div class="panel">{recent.data ? <RowsChart runs={recent.data.runs.slice().reverse()} /> : null}</div>
          <h2>Run history</h2>
          {runs.data ? (
            <>
              <RunTable name={p.name} runs={runs.data.runs} />
              <Pager page={page} limit={limit} total={runs.data.total} go={(n) => navigate(`/pipelines/${encodeURIComponent(name)}${n ? `?page=${n}` : ''}`)} />
            </>
          ) : null}
        </>
      ) : null}
      <h2>Configuration</h2>
      {config.data ? <ConfigView text={config.data.text} errorLine={config.data.errorLine} file={fileText(config.data)} /> : null}
      {config.error ? <ErrorBox>{config.error.message}</ErrorBox> : null}
    </>
  );
}
