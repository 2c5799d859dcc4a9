import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { loadPipeline, parsePipeline, MAX_PIPELINE_BYTES } from '../../src/config/load-pipeline.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../support/databases.js';

/** A valid pipeline, as a plain object, that the mutations start from. */
const VALID = {
  name: 'fuzz',
  source: { type: 'duckdb', path: 'warehouse.duckdb' },
  model: { table: 'm' },
  destination: { type: 'postgres', url: 'postgres://u@127.0.0.1:5432/db', table: 'crm.accounts', ssl: { mode: 'verify-full', ca_file: 'ca.pem' } },
  primary_key: ['id'],
  mapping: { id: 'id', name: 'full_name' },
  mode: 'upsert',
  actions: { before: [{ name: 'a', sql: 'SELECT 1' }] },
  retry: { attempts: 3, initial_delay: '500ms', max_delay: '10s', jitter: 0.5 },
  timeouts: { connect: '10s', statement: '30s', run: '1h' },
  max_delete_ratio: 0.5,
  batch_size: 1000,
};

const ENV = { SECRET_URL: 'postgres://u:pw@h/db' };
let tried = 0;

/** Parses text; the only exception allowed is a ConfigError. Returns what happened. */
function parseOnly(text: string): 'ok' | 'config-error' {
  tried++;
  try {
    parsePipeline(text, '/tmp/fuzz.yaml', { env: ENV, stateDir: '/tmp/outflow-fuzz-state' });
    return 'ok';
  } catch (e) {
    if (e instanceof ConfigError) {
      expect(e.message.length).toBeGreaterThan(0);
      return 'config-error';
    }
    throw new Error(`the loader crashed with ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}\n--- input ---\n${text}`);
  }
}

const anyValue = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('${SECRET_URL}', '${UNSET_VAR}', '$$', '500ms', '99999999999h', '-1s', 'mirror', '__proto__', 'constructor'),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
);

type Path = (string | number)[];
function paths(v: unknown, prefix: Path = []): Path[] {
  if (v && typeof v === 'object') {
    const out: Path[] = [prefix];
    for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, Array.isArray(v) ? Number(k) : k]));
    return out;
  }
  return [prefix];
}
const ALL_PATHS = paths(VALID).filter((p) => p.length > 0);

/** One mutation: replace a value, delete a key, or add an unknown key, somewhere in the tree. */
const mutation = fc.oneof(
  fc.record({ op: fc.constant('set' as const), path: fc.constantFrom(...ALL_PATHS), value: anyValue }),
  fc.record({ op: fc.constant('delete' as const), path: fc.constantFrom(...ALL_PATHS) }),
  fc.record({ op: fc.constant('add' as const), path: fc.constantFrom([], ...ALL_PATHS), key: fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'toString')), value: anyValue }),
);

function applyMutations(base: unknown, ms: { op: string; path: Path; value?: unknown; key?: string }[]): unknown {
  const root = structuredClone(base) as Record<string | number, unknown>;
  for (const m of ms) {
    let parent: Record<string | number, unknown> | undefined = root;
    const path = m.op === 'add' ? m.path : m.path.slice(0, -1);
    for (const k of path) parent = parent && typeof parent[k] === 'object' && parent[k] !== null ? (parent[k] as Record<string | number, unknown>) : undefined;
    if (!parent) continue;
    const last = m.path[m.path.length - 1];
    if (m.op === 'set') parent[last] = m.value;
    else if (m.op === 'delete') delete parent[last];
    else Object.defineProperty(parent, m.key!, { value: m.value, enumerable: true, configurable: true, writable: true });
  }
  return root;
}

describe('config loader under hostile and random input', () => {
  const dir = tempDir('outflow-config-fuzz-');
  afterAll(() => console.log(`[fuzz] ${tried} configs tried, 0 crashes (every failure was a ConfigError)`));

  it('the valid base pipeline loads', () => {
    expect(parseOnly(stringify(VALID))).toBe('ok');
  });

  it('a YAML alias bomb is refused with a clear message', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      levels.push(`${cur}: &${cur} [*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev}]`);
    }
    const file = join(dir, 'bomb.yaml');
    writeFileSync(file, levels.join('\n') + '\n');
    expect(() => loadPipeline(file)).toThrow(ConfigError);
    expect(() => loadPipeline(file)).toThrow(/bomb\.yaml: refused: .*aliases are limited/);
  });

  it('a file over 1 MiB is refused before it is parsed', () => {
    const file = join(dir, 'huge.yaml');
    writeFileSync(file, `name: huge\n# ${'x'.repeat(MAX_PIPELINE_BYTES)}\n`);
    expect(() => loadPipeline(file)).toThrow(new ConfigError(`huge.yaml: file is ${MAX_PIPELINE_BYTES + 14} bytes; a pipeline file may be at most ${MAX_PIPELINE_BYTES} bytes`));
  });

  it('a file that is not UTF-8 is refused', () => {
    const file = join(dir, 'latin1.yaml');
    writeFileSync(file, Buffer.from('name: caf\xe9\n', 'latin1'));
    expect(() => loadPipeline(file)).toThrow(new ConfigError('latin1.yaml: not valid UTF-8 text; save the pipeline file as UTF-8'));
  });

  it('a duration beyond what a timer can hold is refused at load, not at run time', () => {
    const text = stringify({ ...VALID, timeouts: { run: '99999999999h' } });
    expect(() => parsePipeline(text, '/tmp/t.yaml', { env: ENV })).toThrow(/timeouts\.run: at most 24 days/);
  });

  it('random text never crashes the loader', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom('*a', '&a [*a]', '!!js/function x', '{', '- - -', '? : :', '%YAML 9.9\n---\nx', 'a: !!binary ~')), (text) => {
        parseOnly(text);
      }),
      { numRuns: 400 },
    );
  });

  it('random YAML trees never crash the loader', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (tree) => {
        parseOnly(stringify(tree));
      }),
      { numRuns: 400 },
    );
  });

  it('mutations of a valid pipeline never crash the loader', () => {
    let ok = 0;
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
        if (parseOnly(stringify(applyMutations(VALID, ms))) === 'ok') ok++;
      }),
      { numRuns: 1200 },
    );
    // Some mutations are harmless (an equivalent value), most are not; both kinds were exercised.
    expect(ok).toBeGreaterThan(0);
  });
});
