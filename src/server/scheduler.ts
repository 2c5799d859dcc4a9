import { Cron } from 'croner';
import type { Pipeline } from '../config/load-pipeline.js';

/** How a pipeline is scheduled, as shown by the API. */
export interface ScheduleInfo {
  cron?: string;
  everyMs?: number;
  timezone?: string;
}

export function scheduleOf(p: Pipeline): ScheduleInfo | undefined {
  if (p.spec.schedule) return { cron: p.spec.schedule, timezone: p.spec.timezone };
  if (p.spec.every) return { everyMs: p.spec.every };
  return undefined;
}

/**
 * One croner job per scheduled pipeline. A due time always calls `onDue`, even while the
 * previous run is still going (croner's `protect` would drop it silently): the run manager
 * records that overlap as a skipped run.
 */
export class Scheduler {
  private readonly jobs = new Map<string, Cron>();

  constructor(private readonly onDue: (pipeline: string) => void) {}

  add(p: Pipeline): void {
    const schedule = scheduleOf(p);
    if (!schedule) return;
    const fire = () => this.onDue(p.name);
    if (schedule.cron) {
      this.jobs.set(p.name, new Cron(schedule.cron, { timezone: schedule.timezone, catch: true }, fire));
    } else {
      // `every` counts from startup: croner's minimum-interval job, ticking each second and
      // firing at most once per interval, with its first run one interval from now.
      const seconds = Math.max(1, Math.round(schedule.everyMs! / 1000));
      this.jobs.set(
        p.name,
        new Cron('* * * * * *', { interval: seconds, startAt: new Date(Date.now() + seconds * 1000), catch: true }, fire),
      );
    }
  }

  /** Stops (or restarts) a pipeline's schedule without forgetting it: pause/resume from the API. */
  setPaused(pipeline: string, paused: boolean): void {
    const job = this.jobs.get(pipeline);
    if (paused) job?.pause();
    else job?.resume();
  }

  /** Stops a pipeline's job (its file was removed or changed; a changed one is added again). */
  remove(pipeline: string): void {
    this.jobs.get(pipeline)?.stop();
    this.jobs.delete(pipeline);
  }

  nextRun(pipeline: string): Date | undefined {
    return this.jobs.get(pipeline)?.nextRun() ?? undefined;
  }

  stop(): void {
    for (const job of this.jobs.values()) job.stop();
    this.jobs.clear();
  }
}
