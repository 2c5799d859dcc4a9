import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, authHeaders, type RunEvent } from './api.ts';

// --- routing: the path names the page; links push history, the back button pops it ---
const routeListeners = new Set<() => void>();
export function navigate(href: string): void {
  history.pushState(null, '', href);
  routeListeners.forEach((l) => l());
}
export function useLocation(): { path: string; search: URLSearchParams } {
  const [, bump] = useState(0);
  useEffect(() => {
    const l = () => bump((n) => n + 1);
    routeListeners.add(l);
    window.addEventListener('popstate', l);
    return () => {
      routeListeners.delete(l);
      window.removeEventListener('popstate', l);
    };
  }, []);
  return { path: location.pathname, search: new URLSearchParams(location.search) };
}

// --- the token: any 401 asks for it, in place of the page ---
type AuthState = { needed: boolean; refused: boolean };
let auth: AuthState = { needed: false, refused: false };
const authListeners = new Set<(s: AuthState) => void>();
export function setAuth(s: AuthState): void {
  auth = s;
  authListeners.forEach((l) => l(s));
}
export function useAuth(): AuthState {
  const [s, set] = useState(auth);
  useEffect(() => {
    authListeners.add(set);
    return () => void authListeners.delete(set);
  }, []);
  return s;
}

/**
 * Data from the API, fetched again on `reload()` and whenever `key` changes. A reload keeps
 * the data shown until the new answer arrives, so the page updates in place.
 */
export function useResource<T>(path: string | null, key: unknown[] = []): { data?: T; error?: ApiError; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: ApiError; path?: string | null }>({});
  const seq = useRef(0);
  const load = useCallback(() => {
    if (!path) return;
    const n = ++seq.current;
    api<T>(path).then(
      (data) => n === seq.current && setState({ data, path }),
      (error: unknown) => {
        if (n !== seq.current) return;
        if (error instanceof ApiError && error.status === 401) setAuth({ needed: true, refused: !!sessionStorage.getItem('outflow-token') });
        setState((s) => ({ ...s, error: error instanceof ApiError ? error : new ApiError(0, String(error)), path }));
      },
    );
  }, [path]);
  useEffect(load, [load, ...key]);
  // Data of another path is not shown while the new one loads.
  return state.path === path ? { data: state.data, error: state.error, reload: load } : { reload: load };
}

// --- live status: /api/events read with fetch, so the bearer token goes in a header ---
const liveListeners = new Set<(e: RunEvent) => void>();
const connListeners = new Set<(on: boolean) => void>();
let isLive = false;
let started = false;
let retry: number | undefined;
let connecting = false;
function setLive(on: boolean) {
  isLive = on;
  connListeners.forEach((l) => l(on));
}
async function listen(): Promise<void> {
  if (connecting) return;
  connecting = true;
  retry = undefined;
  try {
    const res = await fetch('/api/events', { headers: authHeaders() });
    if (!res.ok || !res.body) throw new Error('no event stream');
    setLive(true);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      buf += decoder.decode(chunk.value, { stream: true });
      const parts = buf.split('\n\n');
      buf = parts.pop() ?? '';
      for (const part of parts) {
        const data = part
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trim())
          .join('\n');
        if (!data) continue;
        const event = JSON.parse(data) as RunEvent;
        liveListeners.forEach((l) => l(event));
      }
    }
  } catch {
    // reconnect below
  }
  connecting = false;
  setLive(false);
  retry = window.setTimeout(() => void listen(), 3000);
}

/** Connects again at once (after the token was given) instead of at the next retry. */
export function reconnectLive(): void {
  if (isLive || connecting) return;
  clearTimeout(retry);
  void listen();
}
export function startLive(): void {
  if (started) return;
  started = true;
  void listen();
}
export function useLiveEvents(onEvent: (e: RunEvent) => void): void {
  const ref = useRef(onEvent);
  ref.current = onEvent;
  useEffect(() => {
    const l = (e: RunEvent) => ref.current(e);
    liveListeners.add(l);
    return () => void liveListeners.delete(l);
  }, []);
}
export function useLiveConnected(): boolean {
  const [on, set] = useState(isLive);
  useEffect(() => {
    connListeners.add(set);
    return () => void connListeners.delete(set);
  }, []);
  return on;
}

/** Calls `fn` at most once per `ms` after bursts of calls (live events come in bursts). */
export function useDebounced(fn: () => void, ms = 250): () => void {
  const timer = useRef<number | undefined>(undefined);
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => () => clearTimeout(timer.current), []);
  return useCallback(() => {
    if (timer.current !== undefined) return;
    timer.current = window.setTimeout(() => {
      timer.current = undefined;
      ref.current();
    }, ms);
  }, [ms]);
}

/** The current time, ticking, so relative times ("12 s ago") stay true without a reload. */
export function useNow(everyMs = 5000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}
