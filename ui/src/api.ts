import type { z } from 'zod';
import type * as S from '../../src/server/api/api-schemas.ts';

/** The API's shapes, straight from the server's zod schemas (types only: nothing of zod is bundled). */
export type Pipeline = z.output<typeof S.pipelineStatus>;
export type Run = z.output<typeof S.runRecord>;
export type RunDetail = z.output<typeof S.runDetail>;
export type RunEvent = z.output<typeof S.runEvent>;
export type Preview = z.output<typeof S.preview>;
export type ConfigText = z.output<typeof S.configText>;
export type RejectedRows = z.output<typeof S.rejectedGroups>;
export type Counts = z.output<typeof S.rowCounts>;
export interface RunList {
  runs: Run[];
  total: number;
  limit: number;
  offset: number;
}

const TOKEN_KEY = 'outflow-token';

export function token(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}
export function setToken(t: string): void {
  sessionStorage.setItem(TOKEN_KEY, t);
}

export function authHeaders(): Record<string, string> {
  const t = token();
  return t ? { authorization: `Bearer ${t}` } : {};
}

/** An answer that is not 2xx, with the server's message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(path, { ...init, headers: { accept: 'application/json', ...authHeaders(), ...(init.headers as Record<string, string>) } });
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) throw new ApiError(res.status, typeof body.error === 'string' ? body.error : `HTTP ${res.status}`, body);
  return body as T;
}

export const pipePath = (name: string) => `/api/pipelines/${encodeURIComponent(name)}`;
