import type { CliCommand } from './command.js';
import { serveCommand } from './serve-command.js';
import { workerCommand } from './worker-command.js';

/** Commands defined outside the core CLI files (serve). */
export const extraCommands: CliCommand[] = [serveCommand, workerCommand];
