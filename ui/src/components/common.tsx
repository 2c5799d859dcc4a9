import type { ComponentChildren } from 'preact';
import { navigate, useNow } from '../hooks.ts';
import { absoluteTime, relativeTime } from '../format.ts';

export const pipeHref = (name: string) => `/pipelines/${encodeURIComponent(name)}`;
export const runHref = (name: string, id: number) => `${pipeHref(name)}/runs/${id}`;

export function Link(props: { href: string; children: ComponentChildren; class?: string; 'aria-label'?: string }) {
  return (
    <a
      {...props}
      onClick={(e) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(props.href);
      }}
    >
      {props.children}
    </a>
  );
}

const ICON: Record<string, string> = { success: '✓', partial: '◐', failed: '✕', invalid: '✕', running: '▶', 'running elsewhere': '▶', skipped: '–', cancelled: '■', paused: '❚❚' };

/** A status in words and colour (the word alone is enough: colour is never the only cue). */
export function Badge({ status }: { status: string }) {
  return (
    <span class={`badge s-${status.replace(/\s+/g, '-')}`} data-status={status}>
      <span aria-hidden="true">{ICON[status] ?? '•'} </span>
      {status}
    </span>
  );
}

/** A time shown relative ("2 min ago", kept ticking) with the absolute time and its zone. */
export function Time({ iso, absolute }: { iso?: string | null; absolute?: boolean }) {
  const now = useNow();
  if (!iso) return <span>–</span>;
  const abs = absoluteTime(iso);
  return (
    <time dateTime={iso} title={abs} data-relative>
      {absolute ? `${abs} (${relativeTime(iso, now)})` : relativeTime(iso, now)}
    </time>
  );
}

export function Pager({ page, limit, total, go }: { page: number; limit: number; total: number; go: (n: number) => void }) {
  const pages = Math.max(1, Math.ceil(total / limit));
  if (pages <= 1) return null;
  return (
    <div class="pager">
      <button class="secondary" disabled={page <= 0} onClick={() => go(page - 1)}>
        ‹ Newer
      </button>
      <span class="muted">
        page {page + 1} of {pages} ({total})
      </span>
      <button class="secondary" disabled={page >= pages - 1} onClick={() => go(page + 1)}>
        Older ›
      </button>
    </div>
  );
}

export function ErrorBox({ children, id }: { children: ComponentChildren; id?: string }) {
  return (
    <div class="errorbox" role="alert" id={id}>
      {children}
    </div>
  );
}
