/** Measured processes of the benchmark: a command under /usr/bin/time, or a bench-child load. */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildReport } from './bench-child.js';

const here = dirname(fileURLToPath(import.meta.url));

export interface Measurement {
  ms: number;
  peakRssMb: number;
  rows: number;
  stages?: { stage: string; ms: number }[];
}

/** Runs a command under /usr/bin/time for its wall time and peak RSS. */
export function timed(cmd: string, args: string[]): Measurement & { output: string } {
  const timeFile = join(tmpdir(), `outflow-bench-time-${process.pid}`);
  const t = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', timeFile, cmd, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const ms = performance.now() - t;
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${output.slice(-2000)}`);
  const kb = Number(readFileSync(timeFile, 'utf8').trim().split('\n').pop());
  return { ms, peakRssMb: kb / 1024, rows: 0, output };
}

export function child(args: string[], profileDir?: string): Promise<ChildReport> {
  const nodeArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  return new Promise((ok, fail) => {
    const p = spawn(process.execPath, [...nodeArgs, join(here, 'bench-child.js'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', fail);
    p.on('close', () => {
      const line = out.split('\n').find((l) => l.startsWith('BENCH_REPORT '));
      if (!line) return fail(new Error(`bench child printed no report: ${out.slice(-2000)}`));
      const r = JSON.parse(line.slice('BENCH_REPORT '.length)) as ChildReport;
      if (r.status !== 'success') return fail(new Error(`bench child: ${r.status}: ${r.error}`));
      ok(r);
    });
  });
}

