import cliProgress from 'cli-progress';
import { redact, redactValue } from '../config/redact.js';
import { jsonSafe } from '../state/history.js';
import type { ProgressEvent } from '../engine/run-pipeline.js';

/**
 * Everything the CLI says goes through here: progress bars on a terminal, plain lines when
 * not a TTY (CI, pipes), one JSON document with --json. All text is redacted first.
 * With --json nothing is written until `finish`: the command's result and any error go out
 * together as one document, so a failed run is still one parseable JSON value.
 */
export class Reporter {
  private bar?: cliProgress.SingleBar;
  private lastStage?: string;
  private document?: unknown;
  private errorMessage?: string;
  constructor(
    readonly json: boolean,
    readonly verbose: boolean,
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly err: NodeJS.WriteStream = process.stderr,
  ) {}

  get isTTY(): boolean {
    return !this.json && !!this.err.isTTY;
  }

  line(text = ''): void {
    if (!this.json) this.out.write(redact(text) + '\n');
  }

  /** The command's result as JSON (with --json), bigint and bytes made JSON-safe. */
  data(value: unknown): void {
    if (this.json) this.document = redactValue(jsonSafe(value));
  }

  error(message: string, cause?: unknown): void {
    this.stopProgress();
    if (this.json) {
      this.errorMessage ??= redact(message);
    } else {
      this.err.write(`error: ${redact(message)}\n`);
    }
    if (this.verbose && cause instanceof Error) {
      let c: unknown = cause;
      while (c instanceof Error) {
        this.err.write(redact(c.stack ?? c.message) + '\n');
        c = c.cause;
      }
    }
  }

  /** Progress per stage: a bar for stages that count rows, a line for the others. */
  progress(e: ProgressEvent): void {
    if (this.json) return;
    if (!this.isTTY) {
      if (e.rows === undefined && e.stage !== this.lastStage) this.err.write(`… ${e.stage}\n`);
      this.lastStage = e.stage;
      return;
    }
    if (e.total !== undefined && e.rows !== undefined) {
      if (!this.bar || this.lastStage !== e.stage) {
        this.stopProgress();
        this.bar = new cliProgress.SingleBar(
          { format: `${e.stage.padEnd(10)} [{bar}] {percentage}% | {value}/{total} rows | {eta_formatted} left`, stream: this.err, hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
        this.bar.start(e.total, 0);
      }
      this.bar.update(e.rows);
    } else if (e.stage !== this.lastStage) {
      this.stopProgress();
      this.err.write(`… ${e.stage}\n`);
    }
    this.lastStage = e.stage;
  }

  /** Writes the one JSON document (--json): the result, with `error` when the command failed. */
  finish(): void {
    if (!this.json || (this.document === undefined && this.errorMessage === undefined)) return;
    const doc =
      this.errorMessage === undefined
        ? this.document
        : this.document && typeof this.document === 'object' && !Array.isArray(this.document)
          ? { ...this.document, error: this.errorMessage }
          : { error: this.errorMessage, ...(this.document === undefined ? {} : { result: this.document }) };
    this.out.write(JSON.stringify(doc, null, 2) + '\n');
    this.document = undefined;
    this.errorMessage = undefined;
  }

  stopProgress(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
