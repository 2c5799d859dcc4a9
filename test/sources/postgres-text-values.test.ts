import { describe, expect, it } from 'vitest';
import { parsePgArrayLiteral } from '../../src/types/postgres-array-literal.js';
import { decodeBytea, parsePgText } from '../../src/types/postgres-text-values.js';
import { logicalFromPgType, pgTypeFor } from '../../src/types/postgres-types.js';
import { formatType, type LogicalType } from '../../src/types/logical-type.js';

const arr = (element: LogicalType): LogicalType => ({ kind: 'array', element });

describe('parsePgArrayLiteral', () => {
  it.each<[string, unknown]>([
    ['{}', []],
    ['{1,2,3}', ['1', '2', '3']],
    ['{NULL,null,"NULL",NuLl}', [null, null, 'NULL', null]],
    ['{"",""}', ['', '']],
    ['{"a,b","c}d","e{f","g\\"h","i\\\\j"}', ['a,b', 'c}d', 'e{f', 'g"h', 'i\\j']],
    ['{  a b  ,  c  }', ['a b', 'c']],
    ['{a\\,b,c\\ }', ['a,b', 'c ']],
    ['{\\NULL}', ['NULL']],
    ['{{1,2},{3,4}}', [['1', '2'], ['3', '4']]],
    ['{{{1}},{{NULL}}}', [[['1']], [[null]]]],
    ['{{},{}}', [[], []]],
    ['[0:1]={7,8}', ['7', '8']],
    ['[1:2][1:1]={{a},{b}}', [['a'], ['b']]],
    ['{"😀 ü","日本"}', ['😀 ü', '日本']],
    ['{"{\\"a\\": [1, 2]}"}', ['{"a": [1, 2]}']],
    ['{"\\\\x00ff"}', ['\\x00ff']],
    [' { 1 , 2 } ', ['1', '2']],
  ])('parses %s', (text, expected) => {
    expect(parsePgArrayLiteral(text)).toEqual(expected);
  });

  it('uses another delimiter when asked (box[] uses ;)', () => {
    expect(parsePgArrayLiteral('{(1,1),(0,0);(2,2),(1,1)}', ';')).toEqual(['(1,1),(0,0)', '(2,2),(1,1)']);
  });

  it.each(['', '1,2', '{1,2', '{1,,2}', '{"a}', '{a"b}', '{1}x', '{1 2', '[0:1]{1}', '{a\\'])('refuses malformed %j', (text) => {
    expect(() => parsePgArrayLiteral(text)).toThrow(/malformed Postgres array literal/);
  });
});

describe('parsePgText', () => {
  it('keeps int8 and numeric exact, floats as their float4/float8 values', () => {
    expect(parsePgText('-9223372036854775808', { kind: 'int64' })).toBe(-9223372036854775808n);
    expect(parsePgText('12345678901234567890123456789.123456789', { kind: 'decimal', precision: 38, scale: 9 })).toBe(
      '12345678901234567890123456789.123456789',
    );
    expect(parsePgText('1.1', { kind: 'float32' })).toBe(Math.fround(1.1));
    expect(parsePgText('-Infinity', { kind: 'float64' })).toBe(-Infinity);
    expect(parsePgText('NaN', { kind: 'float64' })).toBeNaN();
    expect(parsePgText(null, { kind: 'int64' })).toBeNull();
  });

  it('reads booleans, bytea in hex and escape format, arrays by element type', () => {
    expect(parsePgText('t', { kind: 'bool' })).toBe(true);
    expect(parsePgText('f', { kind: 'bool' })).toBe(false);
    expect(parsePgText('\\x00ff10', { kind: 'bytes' })).toEqual(new Uint8Array([0, 255, 16]));
    expect(decodeBytea('a\\\\b\\000\\377')).toEqual(new Uint8Array([97, 92, 98, 0, 255]));
    expect(parsePgText('{1,NULL,-3}', arr({ kind: 'int64' }))).toEqual([1n, null, -3n]);
    expect(parsePgText('{"\\\\x01",NULL}', arr({ kind: 'bytes' }))).toEqual([new Uint8Array([1]), null]);
    expect(parsePgText('{{1,2},{3,4}}', arr({ kind: 'int32' }))).toEqual([[1, 2], [3, 4]]);
    expect(parsePgText('{{1,2},{3,NULL}}', arr(arr({ kind: 'int16' })))).toEqual([[1, 2], [3, null]]);
    expect(parsePgText('{t,f}', arr({ kind: 'bool' }))).toEqual([true, false]);
  });
});

describe('logicalFromPgType / pgTypeFor', () => {
  it.each<[string, string]>([
    ['smallint', 'int16'],
    ['integer', 'int32'],
    ['bigint', 'int64'],
    ['numeric(38,9)', 'decimal(38,9)'],
    ['numeric(10)', 'decimal(10,0)'],
    ['numeric(3,-2)', 'decimal(5,0)'],
    ['numeric(2,5)', 'decimal(5,5)'],
    ['real', 'float32'],
    ['double precision', 'float64'],
    ['character varying(20)', 'text'],
    ['character(3)', 'text'],
    ['bpchar', 'text'],
    ['"char"', 'text'],
    ['boolean', 'bool'],
    ['date', 'date'],
    ['time(3) without time zone', 'time'],
    ['timestamp(6) without time zone', 'timestamp'],
    ['timestamp with time zone', 'timestamptz'],
    ['interval day to second', 'interval'],
    ['uuid', 'uuid'],
    ['jsonb', 'json'],
    ['bytea', 'bytes'],
    ['integer[]', 'int32[]'],
    ['numeric(5,2)[]', 'decimal(5,2)[]'],
    ['timestamp with time zone[]', 'timestamptz[]'],
  ])('maps %s', (pg, logical) => {
    const t = logicalFromPgType(pg);
    expect('unsupported' in t ? t.unsupported : formatType(t)).toBe(logical);
  });

  it.each(['numeric', 'numeric[]', 'money', 'time with time zone', 'bit(3)', 'point', 'tsvector'])('refuses %s with advice', (pg) => {
    const t = logicalFromPgType(pg);
    expect(t).toHaveProperty('unsupported');
    expect((t as { unsupported: string }).unsupported).toMatch(/cast/i);
  });

  it('gives DDL types that hold each logical type', () => {
    expect(pgTypeFor({ kind: 'int64' })).toBe('bigint');
    expect(pgTypeFor({ kind: 'decimal', precision: 76, scale: 38 })).toBe('numeric(76,38)');
    expect(pgTypeFor({ kind: 'json' })).toBe('jsonb');
    expect(pgTypeFor({ kind: 'bytes' })).toBe('bytea');
    expect(pgTypeFor({ kind: 'timestamptz' })).toBe('timestamptz');
    expect(pgTypeFor(arr({ kind: 'uuid' }))).toBe('uuid[]');
    expect(pgTypeFor(arr(arr({ kind: 'text' })))).toBe('text[][]');
  });
});
