import { describe, expect, it } from 'vitest';
import { parsePipeline } from '../../src/config/load-pipeline.js';

const base = {
  source: 'source: { type: duckdb }',
  model: 'model: { table: items }',
  destination: 'destination: { type: postgres, url: "postgres://u@h/d", table: t }',
  key: 'primary_key: id',
};
const yaml = (over: Partial<typeof base> = {}, extra = '') => Object.values({ ...base, ...over }).join('\n') + '\n' + extra;
const errorOf = (text: string) => {
  try {
    parsePipeline(text, '/tmp/p.yaml');
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('parsed');
};

describe('config errors suggest what was meant', () => {
  it('a misspelt top-level key names the key it resembles, at its line', () => {
    expect(errorOf(yaml({ key: 'primay_key: id' }))).toBe('p.yaml:4: (top level): unknown field "primay_key"; did you mean "primary_key"?');
  });

  it('a misspelt key inside a tagged union (source.type duckdb) is matched against that type\'s keys', () => {
    expect(errorOf(yaml({ source: 'source: { type: duckdb, memory_limt: 1GB }' }))).toMatch(/source: unknown field "memory_limt"; did you mean "memory_limit"\?/);
    expect(errorOf(yaml({ destination: 'destination: { type: postgres, url: "postgres://u@h/d", tabel: t }' }))).toMatch(/did you mean "table"\?/);
  });

  it('a key nothing resembles lists the accepted keys', () => {
    expect(errorOf(yaml({}, 'retry: { zzz: 1 }'))).toMatch(/retry: unknown field "zzz"; expected one of "attempts", "initial_delay", "max_delay", "jitter"/);
  });

  it('model: { tabel: … } lists the accepted forms', () => {
    expect(errorOf(yaml({ model: 'model: { tabel: items }' }))).toMatch(/model: expected one of \{ table: … \} or \{ query: … \} \(unexpected "tabel"; did you mean "table"\?\)/);
  });
});
