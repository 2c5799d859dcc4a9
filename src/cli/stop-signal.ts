/**
 * Long-running commands (serve, worker) run until SIGTERM or SIGINT; then `stop` shuts them
 * down cleanly (a worker finishes its partition, serve its runs) and the command returns.
 */
export function untilStopSignal(stop: (signal: NodeJS.Signals) => Promise<void>): Promise<void> {
  return new Promise<void>((done) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      stop(signal).then(done, done);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
