import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Pipeline } from '../config/load-pipeline.js';

const FILE = 'paused-schedules.json';

/**
 * Which pipelines' schedules are paused (from the API or the UI), kept in the pipeline's
 * state folder so a restarted server keeps them paused. A paused pipeline can still be run
 * by hand; only its schedule stops firing.
 */
export class PauseStore {
  private readonly byDir = new Map<string, Record<string, { pausedAt: string }>>();

  isPaused(p: Pipeline): boolean {
    return p.name in this.read(p.stateDir);
  }

  set(p: Pipeline, paused: boolean): void {
    const all = { ...this.read(p.stateDir) };
    if (paused) all[p.name] ??= { pausedAt: new Date().toISOString() };
    else delete all[p.name];
    const dir = resolve(p.stateDir);
    mkdirSync(dir, { recursive: true });
    // Written aside and renamed, so a crash never leaves half a file.
    const tmp = join(dir, `${FILE}.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify(all, null, 2) + '\n');
    renameSync(tmp, join(dir, FILE));
    this.byDir.set(dir, all);
  }

  private read(stateDir: string): Record<string, { pausedAt: string }> {
    const dir = resolve(stateDir);
    let all = this.byDir.get(dir);
    if (!all) {
      try {
        all = JSON.parse(readFileSync(join(dir, FILE), 'utf8')) as Record<string, { pausedAt: string }>;
      } catch {
        all = {};
      }
      this.byDir.set(dir, all);
    }
    return all;
  }
}
