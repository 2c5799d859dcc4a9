import { ConfigError } from '../errors.js';
import { defineCommand, EXIT, STATE_DIR_OPTION, STATE_URL_OPTION } from './command.js';
import { requireStateUrl } from '../workers/partition-locks.js';
import { untilStopSignal } from './stop-signal.js';

export const workerCommand = defineCommand({
  name: 'worker',
  args: '[paths...]',
  description: 'deliver partitions of warehouse-diff runs from the job queue in the state database, until stopped',
  options: [
    STATE_URL_OPTION,
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
      log: (event, fields) => reporter.line(`${new Date().toISOString()} ${event} ${Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' ')}`),
    });
    // Until SIGTERM or SIGINT: then the partition in hand is finished and the worker stops.
    await untilStopSignal(() => worker.stop());
    return EXIT.ok;
  },
});
