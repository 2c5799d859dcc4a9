import { ConfigError } from '../errors.js';
import { defineCommand, EXIT, STATE_DIR_OPTION, STATE_URL_OPTION } from './command.js';
import { untilStopSignal } from './stop-signal.js';
// Only the defaults load eagerly: the server code is imported when `serve` runs.
import { DEFAULT_HOST, DEFAULT_PORT } from '../server/serve-defaults.js';

export const serveCommand = defineCommand({
  name: 'serve',
  args: '[dir]',
  description: 'run pipelines on their schedules and serve the HTTP API and web UI',
  options: [
    { flags: '--host <host>', description: 'address to bind (beyond loopback needs OUTFLOW_TOKEN)', defaultValue: DEFAULT_HOST },
    { flags: '--port <port>', description: 'port to listen on', defaultValue: String(DEFAULT_PORT) },
    STATE_DIR_OPTION,
    STATE_URL_OPTION,
    { flags: '--log-format <format>', description: 'text or json (one line per event)', defaultValue: 'text' },
    { flags: '--grace-period <seconds>', description: 'on SIGTERM, how long running syncs may finish before they are cancelled', defaultValue: '30' },
    { flags: '--public-url <url>', description: 'base URL of the UI, for links in alerts (default http://host:port)' },
  ],
  async run([dir], opts) {
    const port = Number(opts.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--port: expected a port number, got ${JSON.stringify(opts.port)}`);
    const format = String(opts.logFormat);
    if (format !== 'text' && format !== 'json') throw new ConfigError(`--log-format: expected text or json, got ${JSON.stringify(format)}`);
    const grace = Number(opts.gracePeriod);
    if (!Number.isFinite(grace) || grace < 0) throw new ConfigError(`--grace-period: expected seconds, got ${JSON.stringify(opts.gracePeriod)}`);
    const { startServe } = await import('../server/serve.js');
    const server = await startServe({
      dir: dir ?? 'pipelines',
      host: String(opts.host),
      port,
      stateDir: opts.stateDir as string | undefined,
      stateUrl: opts.stateUrl as string | undefined,
      logFormat: format,
      graceMs: grace * 1000,
      publicUrl: opts.publicUrl as string | undefined,
    });
    // Runs until SIGTERM or SIGINT; then shuts down cleanly and returns to the entry point.
    await untilStopSignal((signal) => {
      server.log.info('signal', { signal });
      return server.stop();
    });
    return EXIT.ok;
  },
});
