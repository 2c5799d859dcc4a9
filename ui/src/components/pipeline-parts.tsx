import { useState } from 'preact/hooks';
import { api, ApiError, pipePath, type Pipeline, type Preview, type Run } from '../api.ts';
import { ms, num } from '../format.ts';
import { Badge, ErrorBox, Link, runHref, Time } from './common.tsx';

/** Starts a run; disabled (and saying why) while this server or another process runs the pipeline. */
export function RunNowButton({ p, onDone }: { p: Pipeline; onDone: () => void }) {
  const [state, setState] = useState<{ busy: boolean; message?: string }>({ busy: false });
  const elsewhere = !!p.runningElsewhere;
  const disabled = !p.valid || !!p.running || elsewhere || state.busy;
  const text = p.running ? 'Running…' : elsewhere ? 'Running elsewhere' : state.busy ? 'Starting…' : 'Run now';
  return (
    <span class="run-now">
      <button
        data-action="run-now"
        aria-label={`Run ${p.name} now`}
        title={elsewhere ? 'another process (outflow run) is running this pipeline' : undefined}
        disabled={disabled}
        onClick={async () => {
          setState({ busy: true });
          try {
            await api(`${pipePath(p.name)}/runs`, { method: 'POST' });
            setState({ busy: false });
          } catch (e) {
            setState({ busy: false, message: e instanceof ApiError ? e.message : String(e) });
          }
          onDone();
        }}
      >
        {text}
      </button>
      {state.message ? (
        <span class="error small" role="alert">
          {state.message}
        </span>
      ) : null}
    </span>
  );
}

export function PauseButton({ p, onDone }: { p: Pipeline; onDone: () => void }) {
  const [busy, setBusy] = useState(false);
  if (!p.valid || !p.schedule) return null;
  const action = p.paused ? 'resume' : 'pause';
  return (
    <button
      class="secondary"
      data-action={action}
      aria-label={`${p.paused ? 'Resume' : 'Pause'} the schedule of ${p.name}`}
      disabled={busy}
      onClick={async () => {
        setBusy(true);
        try {
          await api(`${pipePath(p.name)}/${action}`, { method: 'POST' });
        } finally {
          setBusy(false);
          onDone();
        }
      }}
    >
      {p.paused ? 'Resume schedule' : 'Pause schedule'}
    </button>
  );
}

/** The flow as boxes that wrap on a narrow screen; every name is shown whole. */
export function FlowGraph({ p }: { p: Pipeline }) {
  const hook = (key: string, title: string) => {
    const list = p.actions?.[key] ?? [];
    return (
      <div class={`node hook ${list.length ? '' : 'faint'} ${key === 'on_failure' ? 'failure' : ''}`} data-node={title}>
        <div class="node-title">{title}</div>
        {list.length ? list.map((a) => <div key={a.name}>{a.name + (a.on === 'source' ? ' (on source)' : '')}</div>) : <div>no actions</div>}
      </div>
    );
  };
  const main: [string, string[]][] = [
    ['Source', [p.source?.type ?? '', p.source?.model ?? '']],
    ['Model', [`key ${p.primaryKey?.join(', ')}`]],
    ['Diff', ['vs last delivered snapshot', `mode ${p.mode}`]],
    ['Destination', [p.destination ?? '']],
  ];
  return (
    <div id="graph" class="graph" role="group" aria-label="pipeline flow">
      <div class="flow-row">{hook('before', 'Before')}</div>
      <ol class="flow-row main">
        {main.map(([title, lines]) => (
          <li key={title} class="node" data-node={title}>
            <div class="node-title">{title}</div>
            {lines.map((l, i) => (
              <div key={i}>{l}</div>
            ))}
          </li>
        ))}
      </ol>
      <div class="flow-row">
        {hook('on_success', 'On success')}
        {hook('on_failure', 'On failure')}
        {hook('after', 'After')}
      </div>
    </div>
  );
}

const KINDS = ['added', 'changed', 'removed', 'retried', 'rejected'] as const;

/** Rows per run, oldest left. A failed or cancelled run wrote nothing: it is marked, not drawn as rows. */
export function RowsChart({ runs }: { runs: Run[] }) {
  const shown = runs.filter((r) => r.status !== 'skipped');
  if (!shown.length) return <p class="muted">No runs yet.</p>;
  const wrote = (r: Run) => r.status === 'success' || r.status === 'partial';
  const W = 1000;
  const H = 220;
  const left = 56;
  const bottom = 28;
  const top = 10;
  let max = 1;
  for (const r of shown) if (wrote(r)) for (const k of KINDS) max = Math.max(max, r.counts[k] ?? 0);
  const plotW = W - left - 8;
  const plotH = H - top - bottom;
  const slot = plotW / shown.length;
  const bw = Math.max(2, Math.min(14, (slot - 6) / KINDS.length));
  return (
    <div>
      <svg id="chart" viewBox={`0 0 ${W} ${H}`} width="100%" role="img" aria-label="rows per run">
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line class="grid" x1={left} x2={W - 8} y1={top + plotH * (1 - f)} y2={top + plotH * (1 - f)} />
            <text class="axis" x={left - 6} y={top + plotH * (1 - f) + 4} text-anchor="end">
              {num(Math.round(max * f))}
            </text>
          </g>
        ))}
        {shown.map((r, i) => {
          const x0 = left + i * slot + (slot - bw * KINDS.length) / 2;
          return (
            <g key={r.id} data-run={r.id}>
              {wrote(r) ? (
                KINDS.map((k, j) => {
                  const v = r.counts[k] ?? 0;
                  const h = v ? Math.max(1, (plotH * v) / max) : 0;
                  return (
                    <rect key={k} class={`k-${k}`} data-kind={k} x={x0 + j * bw} y={top + plotH - h} width={bw - 1} height={h}>
                      <title>{`run ${r.id}: ${num(v)} ${k}`}</title>
                    </rect>
                  );
                })
              ) : (
                <text class={`mark s-${r.status}`} data-mark={r.status} x={left + i * slot + slot / 2} y={top + plotH - 4} text-anchor="middle">
                  {r.status === 'running' ? '…' : '✕'}
                  <title>{`run ${r.id}: ${r.status}${r.status === 'running' ? '' : ', nothing written'}`}</title>
                </text>
              )}
              {shown.length <= 20 || i % Math.ceil(shown.length / 20) === 0 ? (
                <text class="axis" x={left + i * slot + slot / 2} y={H - 10} text-anchor="middle">
                  #{r.id}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <div class="legend">
        {KINDS.map((k) => (
          <span key={k}>
            <i class={`k-${k}`} />
            {k}
          </span>
        ))}
        <span>✕ failed or cancelled (nothing written)</span>
      </div>
    </div>
  );
}

const RUN_COLUMNS = ['read', 'added', 'changed', 'removed', 'retried', 'rejected'] as const;

export function RunTable({ name, runs }: { name: string; runs: Run[] }) {
  if (!runs.length) return <p class="muted">No runs yet.</p>;
  return (
    <div class="scroll">
      <table id="runs">
        <thead>
          <tr>
            <th>Run</th>
            <th>Status</th>
            <th>Trigger</th>
            <th>Started</th>
            <th class="num">Duration</th>
            {RUN_COLUMNS.map((k) => (
              <th key={k} class="num">
                {k}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr key={run.id} data-run={run.id}>
              <td>
                <Link href={runHref(name, run.id)}>{String(run.id)}</Link>
              </td>
              <td>
                <Badge status={run.status} />
                {run.error ? (
                  <div class="error small" title={run.error}>
                    {run.error.length > 90 ? `${run.error.slice(0, 89)}…` : run.error}
                  </div>
                ) : null}
              </td>
              <td>{run.trigger}</td>
              <td>
                <Time iso={run.startedAt} />
              </td>
              <td class="num">{ms(run.durationMs)}</td>
              {RUN_COLUMNS.map((k) => (
                <td key={k} class="num" data-count={k}>
                  {/* A run still going has no final counts yet. */}
                  {run.status === 'running' ? '–' : num(run.counts[k] ?? 0)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The file as written (secrets redacted), numbered; the line an error points at is marked. */
export function ConfigView({ text, errorLine, file }: { text: string; errorLine?: number; file: string }) {
  return (
    <figure class="config-figure">
      <figcaption class="muted">{file} (secrets redacted)</figcaption>
      <pre class="config" id="config" aria-label={`contents of ${file}`}>
        {text.split('\n').map((line, i) => (
          <span key={i} class={`line ${errorLine === i + 1 ? 'error-line' : ''}`} data-line={i + 1} {...(errorLine === i + 1 ? { 'aria-current': 'true' } : {})}>
            <span class="ln" aria-hidden="true">
              {i + 1}
            </span>
            {line}
            {'\n'}
          </span>
        ))}
      </pre>
    </figure>
  );
}

/** The dry run: what a run would insert, update and delete now, with sample rows. */
export function PreviewPanel({ p }: { p: Pipeline }) {
  const [state, setState] = useState<{ busy: boolean; data?: Preview; error?: string }>({ busy: false });
  const run = async () => {
    setState({ busy: true });
    try {
      setState({ busy: false, data: await api<Preview>(`${pipePath(p.name)}/preview?sample=5`) });
    } catch (e) {
      setState({ busy: false, error: (e as Error).message });
    }
  };
  const d = state.data;
  return (
    <section id="preview" aria-labelledby="preview-title">
      <div class="row">
        <h2 id="preview-title">Preview</h2>
        <button class="secondary" data-action="preview" onClick={run} disabled={state.busy || !!p.running} aria-label={`Preview ${p.name}`}>
          {state.busy ? 'Computing…' : d ? 'Preview again' : 'Preview changes'}
        </button>
      </div>
      {state.error ? <ErrorBox>{state.error}</ErrorBox> : null}
      {!d && !state.error ? <p class="muted">What the next run would send, computed now without writing anything.</p> : null}
      {d ? (
        <div class="panel" id="preview-result">
          <p>
            {d.syncKind === 'full' ? `Full sync${d.fullReason ? ` (${d.fullReason})` : ''}. ` : 'Incremental sync. '}
            Model rows {num(d.counts.read)} · added {num(d.counts.added)} · changed {num(d.counts.changed)} · removed {num(d.counts.removed)}
            {d.counts.invalid ? ` · unsendable ${num(d.counts.invalid)}` : ''}
          </p>
          <div class="counts">
            {(
              [
                ['inserts', d.planned?.wouldInsert ?? (d.targetExists ? undefined : d.counts.added)],
                ['updates', d.planned?.wouldUpdate],
                ['deletes', d.planned?.wouldDelete],
              ] as const
            ).map(([k, v]) => (
              <div class="count" key={k} data-planned={k}>
                <div class="v">{num(v)}</div>
                <div class="k">planned {k}</div>
              </div>
            ))}
          </div>
          {d.problems.map((x) => (
            <ErrorBox key={x}>{x}</ErrorBox>
          ))}
          {(['added', 'changed', 'removed'] as const).map((kind) =>
            d.samples[kind].length ? (
              <div key={kind} class="scroll">
                <h3>Sample {kind} rows</h3>
                <table data-sample={kind}>
                  <thead>
                    <tr>
                      {d.columns.map((c) => (
                        <th key={c}>{c}</th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {d.samples[kind].map((row, i) => (
                      <tr key={i}>
                        {row.map((v, j) => (
                          <td key={j}>{v === null ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v)}</td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : null,
          )}
        </div>
      ) : null}
    </section>
  );
}
