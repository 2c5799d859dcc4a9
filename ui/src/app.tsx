import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { Link, pipeHref } from './components/common.tsx';
import { TokenForm } from './components/token-form.tsx';
import { startLive, useAuth, useLiveConnected, useLocation } from './hooks.ts';
import { PipelinePage } from './pages/pipeline-page.tsx';
import { PipelinesPage } from './pages/pipelines-page.tsx';
import { RunPage } from './pages/run-page.tsx';

export function App() {
  const { path, search } = useLocation();
  const auth = useAuth();
  const live = useLiveConnected();
  const page = Number(search.get('page') ?? 0) || 0;
  let m: RegExpExecArray | null;
  let crumbs: ComponentChildren[] = ['pipelines'];
  let body: ComponentChildren;
  if ((m = /^\/pipelines\/([^/]+)\/runs\/(\d+)$/.exec(path))) {
    const name = decodeURIComponent(m[1]);
    crumbs = [<Link href="/">pipelines</Link>, <Link href={pipeHref(name)}>{name}</Link>, `run ${m[2]}`];
    body = <RunPage key={path} name={name} id={Number(m[2])} />;
  } else if ((m = /^\/pipelines\/([^/]+)$/.exec(path))) {
    const name = decodeURIComponent(m[1]);
    crumbs = [<Link href="/">pipelines</Link>, name];
    body = <PipelinePage key={path} name={name} page={page} />;
  } else body = <PipelinesPage />;
  useEffect(() => {
    document.title = `outflow · ${crumbs.map((c) => (typeof c === 'string' ? c : '')).filter(Boolean).join(' / ') || 'pipelines'}`;
  });
  // The live stream starts once the token (if any) is known to work.
  useEffect(() => {
    if (!auth.needed) startLive();
  }, [auth.needed]);
  return (
    <>
      <header class="top">
        <a class="brand" href="/">
          outflow
        </a>
        <nav id="crumbs" aria-label="breadcrumbs">
          {crumbs.map((c, i) => (
            <span key={i}>
              {i ? ' / ' : ''}
              {c}
            </span>
          ))}
        </nav>
        <span id="live" class={`live ${live ? 'on' : ''}`} title={live ? 'live status connected' : 'live status disconnected'}>
          ● <span class="live-text">{live ? 'live' : 'offline'}</span>
        </span>
      </header>
      <main id="app">{auth.needed ? <TokenForm refused={auth.refused} /> : body}</main>
    </>
  );
}
