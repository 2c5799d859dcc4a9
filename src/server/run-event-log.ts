import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RunEvent } from './run-manager.js';

/**
 * Every live event of a run this server started, one JSON line per event in
 * `<state>/run-events/<pipeline>/<run>.jsonl`, so a run's page shows its event log after a
 * restart. Runs started by `outflow run` have none (their stage timings are in the history).
 */
export class RunEventLog {
  append(stateDir: string, e: RunEvent): void {
    const dir = join(resolve(stateDir), 'run-events', safeName(e.pipeline));
    mkdirSync(dir, { recursive: true });
    appendFileSync(join(dir, `${e.runId}.jsonl`), JSON.stringify(e) + '\n');
  }

  read(stateDir: string, pipeline: string, runId: number): RunEvent[] {
    let text: string;
    try {
      text = readFileSync(join(resolve(stateDir), 'run-events', safeName(pipeline), `${runId}.jsonl`), 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as RunEvent);
  }
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_');
}
