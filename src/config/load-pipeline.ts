import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { pipelineSchema, type PipelineSpec } from './pipeline-schema.js';
import { substituteEnv } from './env-substitution.js';
import { acceptedForms, acceptedKeys } from './pipeline-json-schema.js';
import { closest as closestMatch, distance } from 'fastest-levenshtein';

/** A pipeline file bigger than this is refused: configs are small, a huge one is a mistake or an attack. */
export const MAX_PIPELINE_BYTES = 1024 * 1024;

export interface Pipeline {
  name: string;
  /** Absolute path of the YAML file. */
  file: string;
  /** Folder of the YAML file: relative paths in the config resolve from here. */
  baseDir: string;
  /** Where run history and snapshots live. */
  stateDir: string;
  /** A Postgres database holding shared state (state.url, --state-url or OUTFLOW_STATE_URL); undefined: files in stateDir only. */
  stateUrl?: string;
  spec: PipelineSpec;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Overrides spec.state.dir and OUTFLOW_STATE_DIR. */
  stateDir?: string;
  /** Overrides spec.state.url and OUTFLOW_STATE_URL. */
  stateUrl?: string;
}

export function loadPipeline(file: string, opts: LoadOptions = {}): Pipeline {
  const abs = resolve(file);
  const shown = basename(abs);
  let size: number;
  try {
    size = statSync(abs).size;
  } catch {
    throw new ConfigError(`${file}: no such pipeline file`);
  }
  if (size > MAX_PIPELINE_BYTES) {
    throw new ConfigError(`${shown}: file is ${size} bytes; a pipeline file may be at most ${MAX_PIPELINE_BYTES} bytes`);
  }
  const text = decodeUtf8(readFileSync(abs), shown);
  return parsePipeline(text, abs, opts);
}

/** Parses pipeline YAML text; `file` names it in errors and anchors relative paths. */
export function parsePipeline(text: string, file: string, opts: LoadOptions = {}): Pipeline {
  const abs = resolve(file);
  const shown = basename(abs);
  const env = opts.env ?? process.env;
  const lines = new LineCounter();
  // maxAliasCount bounds alias expansion: a "billion laughs" file is refused, not expanded.
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const at = e.linePos?.[0] ?? (e.pos ? lines.linePos(e.pos[0]) : undefined);
    throw new ConfigError(`${shown}${at ? `:${at.line}:${at.col}` : ''}: invalid YAML: ${firstLine(e.message)}`);
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 50 });
  } catch (e) {
    throw new ConfigError(`${shown}: refused: ${(e as Error).message} (aliases are limited to keep a small file from expanding into a huge one)`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${shown}: expected a mapping of pipeline fields at the top level, got ${describe(raw)}`);
  }
  // The key's line in the file, for errors: at the offending key itself for unknown keys, else at the field's value.
  const lineOf = (path: PropertyKey[], fallback: PropertyKey[]) => {
    const node = doc.getIn(path as (string | number)[], true) ?? nearestNode(doc, fallback as (string | number)[]);
    return isNode(node) && node.range ? lines.linePos(node.range[0]).line : undefined;
  };
  return buildPipeline(raw, abs, opts, lineOf);
}

/**
 * Substitutes ${ENV}, validates and returns the pipeline; shared by YAML files and
 * definePipeline. `lineOf` finds a field's line in the file, when there is a file.
 */
export function buildPipeline(
  raw: unknown,
  file: string,
  opts: LoadOptions = {},
  lineOf: (path: PropertyKey[], fallback: PropertyKey[]) => number | undefined = () => undefined,
): Pipeline {
  const abs = resolve(file);
  const shown = basename(abs);
  const env = opts.env ?? process.env;
  const substituted = substituteEnv(raw, env, shown);
  const parsed = pipelineSchema.safeParse(substituted, { reportInput: true });
  if (!parsed.success) {
    // A misspelt key usually also leaves a required one missing: the misspelling is the news.
    const issue = parsed.error.issues.find((i) => i.code === 'unrecognized_keys') ?? parsed.error.issues[0];
    const line = lineOf(issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path, issue.path);
    throw new ConfigError(`${shown}${line ? `:${line}` : ''}: ${formatPath(issue.path)}: ${formatIssue(issue, valueAt(substituted, issue.path), substituted)}`);
  }
  const spec = parsed.data;
  const name = spec.name ?? basename(abs, extname(abs)).replace(/[^A-Za-z0-9_.-]/g, '_');
  checkCrossFields(spec, shown);
  const baseDir = dirname(abs);
  const stateDir = resolve(
    opts.stateDir ?? (spec.state?.dir ? resolve(baseDir, spec.state.dir) : env.OUTFLOW_STATE_DIR ?? '.outflow'),
  );
  const stateUrl = opts.stateUrl ?? spec.state?.url ?? (env.OUTFLOW_STATE_URL || undefined);
  return { name, file: abs, baseDir, stateDir, ...(stateUrl ? { stateUrl } : {}), spec };
}

function checkCrossFields(spec: PipelineSpec, shown: string): void {
  if (spec.schedule && spec.every) {
    throw new ConfigError(`${shown}: schedule: give either schedule (cron) or every (interval), not both`);
  }
  if (spec.mapping) {
    const targets = Object.values(spec.mapping);
    const dup = targets.find((t, i) => targets.indexOf(t) !== i);
    if (dup) throw new ConfigError(`${shown}: mapping: two model columns map to destination column "${dup}"`);
  }
  if (spec.diff !== 'warehouse') {
    for (const field of ['state_schema', 'partitions'] as const) {
      if (spec[field] !== undefined) throw new ConfigError(`${shown}: ${field}: applies only with diff: warehouse (the diff here is ${spec.diff})`);
    }
    if (spec.workers) {
      throw new ConfigError(`${shown}: workers: workers deliver the partitions of a warehouse diff; set diff: warehouse (the diff here is ${spec.diff})`);
    }
  } else if (spec.incremental) {
    throw new ConfigError(`${shown}: incremental: diff: warehouse compares the whole model with its snapshot in the warehouse; a cursor is not used there (remove incremental, or use diff: local)`);
  }
  if (spec.incremental && (spec.mode === 'mirror' || spec.mode === 'replace')) {
    throw new ConfigError(
      `${shown}: incremental: a cursor reads only new rows, so it cannot tell which rows left the model; mode ${spec.mode} needs the whole model`,
    );
  }
}

/** The node at `path`, or for a missing field the mapping that lacks it (its line is where to add it). */
function nearestNode(doc: ReturnType<typeof parseDocument>, path: (string | number)[]): unknown {
  for (let n = path.length; n > 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (node !== undefined) return node;
  }
  return undefined;
}

function decodeUtf8(bytes: Buffer, shown: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ConfigError(`${shown}: not valid UTF-8 text; save the pipeline file as UTF-8`);
  }
}

function formatPath(path: PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let v: unknown = root;
  for (const k of path) v = v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

function formatIssue(issue: z.core.$ZodIssue, atPath: unknown, root: unknown): string {
  const input = (issue as { input?: unknown }).input ?? atPath;
  switch (issue.code) {
    case 'invalid_type':
      if (input === undefined) return `required: expected ${issue.expected === 'array' ? 'a list' : article(issue.expected)}`;
      return `expected ${article(issue.expected)}, got ${describe(input)}`;
    case 'unrecognized_keys': {
      const known = acceptedKeys(issue.path, root).filter((k) => !issue.keys.includes(k));
      const hints = issue.keys.map((k) => [k, closest(k, known)] as const).filter(([, h]) => h);
      return (
        `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}` +
        (hints.length ? `; did you mean ${hints.map(([, h]) => `"${h}"`).join(', ')}?` : known.length ? `; expected one of ${known.map((k) => `"${k}"`).join(', ')}` : '')
      );
    }
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(input)}`;
    case 'invalid_union': {
      if (input === undefined) return 'required';
      if ('note' in issue && issue.note === 'No matching discriminator') {
        const options = 'options' in issue && Array.isArray(issue.options) ? issue.options : [];
        const got = input && typeof input === 'object' && !Array.isArray(input) ? (input as Record<string, unknown>).type : input;
        return `unknown type ${describe(got)}${options.length ? `; expected one of ${options.map((o) => JSON.stringify(o)).join(', ')}` : ''}`;
      }
      return `expected ${unionHint(issue, root)}, got ${describe(input)}`;
    }
    default:
      return issue.message + (input !== undefined && typeof input !== 'object' ? `, got ${describe(input)}` : '');
  }
}

/** Names the accepted forms of a union of mappings (model: { table } or { query }), and the nearest key to a typo. */
function unionHint(issue: z.core.$ZodIssueInvalidUnion, root: unknown): string {
  const keys = new Set<string>();
  for (const errs of issue.errors) for (const e of errs) if (e.code === 'unrecognized_keys') e.keys.forEach((k) => keys.add(k));
  const forms = acceptedForms(issue.path);
  const typo = [...keys].map((k) => closest(k, acceptedKeys(issue.path, root))).find(Boolean);
  return (
    (forms.length ? `one of ${forms.join(' or ')}` : 'one of the accepted forms') +
    (keys.size ? ` (unexpected ${[...keys].map((k) => `"${k}"`).join(', ')}${typo ? `; did you mean "${typo}"?` : ''})` : '')
  );
}

/** The accepted key nearest to a typo, when it is near enough to be what was meant. */
export function closest(word: string, candidates: string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const best = closestMatch(word, candidates);
  return distance(word.toLowerCase(), best.toLowerCase()) <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function article(expected: string): string {
  if (expected === 'object') return 'a mapping';
  if (expected === 'array') return 'a list';
  if (expected === 'integer' || expected === 'int') return 'an integer';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return JSON.stringify(v);
}

function firstLine(s: string): string {
  return s.split('\n')[0];
}
