import { redact } from '../config/redact.js';

export type LogFormat = 'text' | 'json';
export type LogLevel = 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/**
 * `serve` says one line per event: a JSON object with --log-format json, `key=value` text
 * otherwise. Every line goes through redact() as a whole, so a secret inside any field
 * (an error message quoting a URL, say) never reaches the log.
 */
export class ServerLog {
  constructor(
    private readonly format: LogFormat,
    private readonly write: (line: string) => void = (line) => process.stderr.write(line + '\n'),
  ) {}

  info(event: string, fields: LogFields = {}): void {
    this.emit('info', event, fields);
  }

  warn(event: string, fields: LogFields = {}): void {
    this.emit('warn', event, fields);
  }

  error(event: string, fields: LogFields = {}): void {
    this.emit('error', event, fields);
  }

  private emit(level: LogLevel, event: string, fields: LogFields): void {
    const time = new Date().toISOString();
    const defined = Object.entries(fields).filter(([, v]) => v !== undefined);
    const line =
      this.format === 'json'
        ? JSON.stringify({ time, level, event, ...Object.fromEntries(defined) })
        : `${time} ${level.toUpperCase().padEnd(5)} ${event}${defined.map(([k, v]) => ` ${k}=${textValue(v)}`).join('')}`;
    this.write(redact(line));
  }
}

function textValue(v: unknown): string {
  const s = String(v);
  return /^[^\s"=]*$/.test(s) && s !== '' ? s : JSON.stringify(s);
}
