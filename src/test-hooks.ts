import { writeFileSync } from 'node:fs';

/**
 * Crash tests need a run to stop at a named point so they can SIGKILL it there. With
 * OUTFLOW_TEST_PAUSE_AT=<point> the run writes OUTFLOW_TEST_PAUSE_FILE (if set) and waits
 * forever at that point. Unset in normal use: then this is a no-op.
 *
 * Points, in run order: 'before-stage', 'copy' (inside the staging COPY, after its first
 * chunk went out), 'merge' (before the merge transaction), 'merge-commit' (inside the
 * merge transaction, just before COMMIT), 'snapshot' (after the merge committed, before
 * the snapshot is saved). Record destinations: 'write' (after the first batch was
 * delivered, before the rest and the snapshot).
 */
export async function pauseForTests(point: string): Promise<void> {
  if (process.env.OUTFLOW_TEST_PAUSE_AT !== point) return;
  if (process.env.OUTFLOW_TEST_PAUSE_FILE) writeFileSync(process.env.OUTFLOW_TEST_PAUSE_FILE, `${process.pid} ${point}\n`);
  // A pending promise alone does not keep Node alive (PGlite holds no socket): a timer does.
  setInterval(() => undefined, 1 << 30);
  await new Promise(() => undefined);
}
