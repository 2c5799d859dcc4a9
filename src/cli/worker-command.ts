import { ConfigError } from '../errors.js';
import { defineCommand, EXIT, STATE_DIR_OPTION } from './command.js';
import { requireStateUrl } from '../workers/partition-locks.js';
import { untilStopSignal } from './stop-signal.js';

export const workerCommand = defineCommand({
  name: 'worker',
  args: '[paths...]',
  description: 'deliver partitions of warehouse-diff runs from the job queue in the state database, until stopped',
  options: [
    { flags: '--state-url <url>', description: 'the state database whose job queue the worker takes partitions from (default: $OUTFLOW_STATE_URL)' },
    { flags: '--concurrency <n>', description: 'partitions this process delivers at once', defaultValue: '1' },
    STATE_DIR_OPTION,
  ],
  async run(args, opts, reporter) {
    const paths = (args as unknown as (string | string[])[]).flat().filter(Boolean);
    const concurrency = Number(opts.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new ConfigError(`--concurrency: expected a whole number from 1 to 64, got ${JSON.stringify(opts.concurrency)}`);
    const stateUrl = requireStateUrl((opts.stateUrl as string | undefined) ?? (process.env.OUTFLOW_STATE_URL || undefined), 'outflow worker');
    const { startWorker } = await import('../workers/partition-worker.js');
    const worker = await startWorker({
      paths: paths.length ? paths : ['pipelines'],
      stateUrl,
      concurrency,
      stateDir: opts.stateDir as string | undefined,
      // A worker runs until stopped: its events go out as they happen, one line each (a JSON object with --json).
      log: (event, fields) => {
        const time = new Date().toISOString();
        process.stdout.write(
          reporter.json ? `${JSON.stringify({ time, event, ...fields })}\n` : `${time} ${event} ${Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' ')}\n`,
        );
      },
    });
    // Until SIGTERM or SIGINT: then the partition in hand is finished and the worker stops.
    await untilStopSignal(() => worker.stop());
    return EXIT.ok;
  },
});
