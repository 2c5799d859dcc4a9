import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { loadPipeline, parsePipeline } from '../../src/config/load-pipeline.js';
import { ConfigError } from '../../src/errors.js';
import { redact } from '../../src/config/redact.js';
import { tempDir } from '../support/databases.js';

const VALID = `source:
  type: duckdb
model:
  table: t
destination:
  type: postgres
  url: \${PG_URL}
  table: target
primary_key: id
`;
const env = { PG_URL: 'postgres://app:s3cret-pass@db.internal:5432/crm' };

function errorOf(text: string, e: NodeJS.ProcessEnv = env): string {
  try {
    parsePipeline(text, '/x/pipeline.yaml', { env: e });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('pipeline config', () => {
  it('loads a valid pipeline with defaults', () => {
    const p = parsePipeline(VALID, '/x/us-states.yaml', { env });
    expect(p.name).toBe('us-states');
    expect(p.spec.mode).toBe('upsert');
    expect(p.spec.primary_key).toEqual(['id']);
    expect(p.spec.source).toMatchObject({ type: 'duckdb', path: ':memory:' });
    expect(p.spec.destination).toMatchObject({ url: env.PG_URL, create_table: true });
  });

  it('names file, line, field and what was expected for a wrong type', () => {
    const msg = errorOf(VALID.replace('table: target', 'table: 42'));
    expect(msg).toBe('pipeline.yaml:8: destination.table: expected a string, got 42');
  });

  it('rejects unknown keys instead of ignoring them', () => {
    expect(errorOf(VALID + 'mdoe: upsert\n')).toMatch(/^pipeline\.yaml:10: \(top level\): unknown field "mdoe"; did you mean "mode"\?$/);
    expect(errorOf(VALID.replace('  table: target', '  table: target\n  tabel: x'))).toMatch(/destination: unknown field "tabel"/);
  });

  it('lists the sync modes for a bad mode', () => {
    expect(errorOf(VALID + 'mode: merge\n')).toMatch(/mode: expected one of "insert", "insert_new", "upsert", "update", "mirror", "replace", got "merge"/);
  });

  it('names a missing environment variable and the field', () => {
    expect(errorOf(VALID, {})).toBe('pipeline.yaml: destination.url: environment variable PG_URL is not set');
  });

  it('reports malformed YAML with its position', () => {
    expect(errorOf('source: [duckdb\nmodel: {')).toMatch(/^pipeline\.yaml:\d+:\d+: invalid YAML/);
  });

  it('says which field is missing', () => {
    expect(errorOf(VALID.replace('primary_key: id\n', ''))).toMatch(/primary_key: required/);
  });

  it('refuses an unknown source type', () => {
    expect(errorOf(VALID.replace('type: duckdb', 'type: oracle'))).toMatch(/source.type: .*"oracle"/);
  });

  it('refuses alias bombs, huge files and non-UTF-8 files', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) bomb.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill('*' + String.fromCharCode(97 + i)).join(', ')}]`);
    expect(errorOf(bomb.join('\n'))).toMatch(/refused|alias/i);
    const dir = tempDir();
    const huge = join(dir, 'huge.yaml');
    writeFileSync(huge, VALID + '#'.repeat(2 * 1024 * 1024));
    expect(() => loadPipeline(huge, { env })).toThrow(/at most 1048576 bytes/);
    const latin1 = join(dir, 'latin1.yaml');
    writeFileSync(latin1, Buffer.concat([Buffer.from(VALID), Buffer.from([0x23, 0xe9, 0x0a])]));
    expect(() => loadPipeline(latin1, { env })).toThrow(/not valid UTF-8/);
  });

  it('registers secrets from the environment for redaction', () => {
    parsePipeline(VALID, '/x/p.yaml', { env });
    expect(redact(`could not connect to ${env.PG_URL}`)).not.toContain('s3cret-pass');
    expect(redact('password s3cret-pass was wrong')).toBe('password *** was wrong');
  });
});
