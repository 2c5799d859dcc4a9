import { writeFileSync } from 'node:fs';

/**
 * Crash tests need a run to stop at a named point so they can SIGKILL it there. With
 * OUTFLOW_TEST_PAUSE_AT=<point> the run writes OUTFLOW_TEST_PAUSE_FILE (if set) and waits
 * forever at that point. Unset in normal use: then this is a no-op.
 */
export async function pauseForTests(point: string): Promise<void> {
  if (process.env.OUTFLOW_TEST_PAUSE_AT !== point) return;
  if (process.env.OUTFLOW_TEST_PAUSE_FILE) writeFileSync(process.env.OUTFLOW_TEST_PAUSE_FILE, `${process.pid} ${point}\n`);
  await new Promise(() => undefined);
}
