import type { Pipeline } from './api.ts';

export function num(n: number | undefined | null): string {
  return n === undefined || n === null ? '–' : Number(n).toLocaleString('en-US');
}

export function ms(n: number | undefined | null): string {
  if (n === undefined || n === null) return '–';
  if (n < 1000) return `${n} ms`;
  if (n < 60000) return `${(n / 1000).toFixed(2)} s`;
  return `${Math.floor(n / 60000)} min ${Math.round((n % 60000) / 1000)} s`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** An absolute time in the browser's zone, with the zone named: "2026-01-05 10:00:02 GMT+1". */
export function absoluteTime(iso: string): string {
  const d = new Date(iso);
  const zone = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zone}`.trim();
}

export function relativeTime(iso: string, now: number): string {
  const diff = (now - Date.parse(iso)) / 1000;
  const abs = Math.abs(diff);
  const rel = abs < 60 ? `${Math.round(abs)} s` : abs < 3600 ? `${Math.round(abs / 60)} min` : abs < 86400 ? `${Math.round(abs / 3600)} h` : `${Math.round(abs / 86400)} d`;
  return diff >= 0 ? `${rel} ago` : `in ${rel}`;
}

export function scheduleText(sc: Pipeline['schedule']): string {
  if (!sc) return 'manual only';
  if (sc.cron) return `cron ${sc.cron}${sc.timezone ? ` (${sc.timezone})` : ''}`;
  const e = sc.everyMs ?? 0;
  return `every ${e % 3600000 === 0 ? `${e / 3600000} h` : e % 60000 === 0 ? `${e / 60000} min` : e % 1000 === 0 ? `${e / 1000} s` : `${e} ms`}`;
}

export function keyText(key: Record<string, unknown>): string {
  return Object.entries(key ?? {})
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ');
}

/** The file with its folder, as the pipelines folder holds it. */
export function fileText(p: { folder: string; file: string }): string {
  return p.folder === '.' ? p.file : `${p.folder}/${p.file}`;
}

/** What a pipeline is doing, in words (the badge shows it as text and colour). */
export function pipelineState(p: Pipeline): string {
  if (!p.valid) return 'invalid';
  if (p.running) return 'running';
  if (p.runningElsewhere) return 'running elsewhere';
  return p.lastRun ? p.lastRun.status : 'never run';
}
