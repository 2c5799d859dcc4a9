import type { CliCommand } from './command.js';

/** Commands defined outside the core CLI files (serve). */
export const extraCommands: CliCommand[] = [];
