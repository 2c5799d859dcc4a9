import { readdirSync } from 'node:fs';
import { basename, extname, join, relative } from 'node:path';
import { Cron } from 'croner';
import { loadPipeline, type Pipeline } from '../config/load-pipeline.js';
import { redact } from '../config/redact.js';
import { ConfigError } from '../errors.js';

/** One pipeline file found by `serve`: loaded, or invalid with the reason. */
export interface CatalogEntry {
  name: string;
  /** Absolute path of the YAML file. */
  file: string;
  pipeline?: Pipeline;
  /** Why the file cannot run (a ConfigError message, redacted). */
  error?: string;
}

export interface CatalogOptions {
  stateDir?: string;
  stateUrl?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Loads every *.yaml / *.yml under `dir` (sub-folders included, hidden ones skipped). An
 * invalid file becomes an entry with its error instead of stopping the others.
 */
export function loadCatalog(dir: string, opts: CatalogOptions = {}): CatalogEntry[] {
  const entries: CatalogEntry[] = [];
  const byName = new Map<string, CatalogEntry>();
  for (const file of findPipelineFiles(dir)) {
    let entry: CatalogEntry;
    try {
      const pipeline = loadPipeline(file, { stateDir: opts.stateDir, stateUrl: opts.stateUrl, env: opts.env });
      checkServeFields(pipeline);
      entry = { name: pipeline.name, file, pipeline };
    } catch (e) {
      const message = e instanceof ConfigError ? e.message : `${basename(file)}: ${(e as Error).message}`;
      entry = { name: basename(file, extname(file)).replace(/[^A-Za-z0-9_.-]/g, '_'), file, error: redact(message) };
    }
    const clash = byName.get(entry.name);
    if (clash) {
      // Two files claiming one name would share a lock, a snapshot and a history: refuse the second.
      entry = {
        name: relative(dir, file).replace(/[^A-Za-z0-9_.-]/g, '_'),
        file,
        error: `${basename(file)}: name: pipeline name "${entry.name}" is already used by ${relative(dir, clash.file)}`,
      };
    }
    byName.set(entry.name, entry);
    entries.push(entry);
  }
  return entries;
}

/**
 * Replaces `entries` in place (the API reads the same array) with a fresh load of the
 * folder, and says which pipelines were added, changed or removed. A pipeline counts as
 * changed when its file, settings or error differ; a run in progress keeps the settings it
 * started with, so a changed file takes effect from the next run.
 */
export function reloadCatalog(dir: string, entries: CatalogEntry[], opts: CatalogOptions = {}): { added: CatalogEntry[]; changed: CatalogEntry[]; removed: CatalogEntry[] } {
  const next = loadCatalog(dir, opts);
  const before = new Map(entries.map((e) => [e.name, e]));
  const fingerprint = (e: CatalogEntry) => JSON.stringify([e.file, e.error, e.pipeline?.spec]);
  const added = next.filter((e) => !before.has(e.name));
  const changed = next.filter((e) => before.has(e.name) && fingerprint(before.get(e.name)!) !== fingerprint(e));
  const names = new Set(next.map((e) => e.name));
  const removed = entries.filter((e) => !names.has(e.name));
  // Unchanged entries keep their objects, so anything holding them sees no difference.
  const kept = next.map((e) => (before.has(e.name) && !changed.includes(e) ? before.get(e.name)! : e));
  entries.splice(0, entries.length, ...kept);
  return { added, changed, removed };
}

function findPipelineFiles(dir: string): string[] {
  let names: import('node:fs').Dirent[];
  try {
    names = readdirSync(dir, { withFileTypes: true });
  } catch {
    throw new ConfigError(`${dir}: no such pipelines folder`);
  }
  const files: string[] = [];
  for (const d of names.sort((a, b) => a.name.localeCompare(b.name))) {
    if (d.name.startsWith('.') || d.name === 'node_modules') continue;
    const path = join(dir, d.name);
    if (d.isDirectory()) files.push(...findPipelineFiles(path));
    else if (d.isFile() && /\.ya?ml$/i.test(d.name)) files.push(path);
  }
  return files;
}

/** What only `serve` reads: the cron pattern, the time zone and the alert thresholds. */
function checkServeFields(p: Pipeline): void {
  const shown = basename(p.file);
  const { schedule, timezone, alerts } = p.spec;
  if (timezone) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    } catch {
      throw new ConfigError(`${shown}: timezone: unknown time zone ${JSON.stringify(timezone)}; use an IANA name such as Europe/Paris`);
    }
  }
  if (schedule) {
    try {
      new Cron(schedule, { timezone, paused: true }).stop();
    } catch (e) {
      throw new ConfigError(`${shown}: schedule: not a cron pattern (${(e as Error).message}); expected five fields such as "*/15 * * * *"`);
    }
  }
  alerts.forEach((a, i) => {
    if ((a.on === 'rejected_share' || a.on === 'row_count_change') && a.threshold === undefined) {
      throw new ConfigError(`${shown}: alerts[${i}].threshold: required for on: ${a.on} (a share such as 0.1 for 10%)`);
    }
  });
}
