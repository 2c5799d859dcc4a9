/** Decoding of BigQuery's f/v cells, for wire forms the shared round trip does not reach. */
import { describe, expect, it } from 'vitest';
import { rowDecoder, timestampText } from '../../src/sources/bigquery/bigquery-values.js';
import { schemaFromFields, type BigqueryField } from '../../src/sources/bigquery/bigquery-types.js';
import { formatType } from '../../src/types/logical-type.js';

describe('bigquery values', () => {
  it('formats TIMESTAMP microseconds at the edges of the range', () => {
    expect(timestampText('0')).toBe('1970-01-01 00:00:00+00');
    expect(timestampText('-1')).toBe('1969-12-31 23:59:59.999999+00');
    expect(timestampText('-62135596800000000')).toBe('0001-01-01 00:00:00+00');
    expect(timestampText('253402300799999999')).toBe('9999-12-31 23:59:59.999999+00');
    expect(timestampText('1709214330120000')).toBe('2024-02-29 13:45:30.12+00');
  });

  it('reads the legacy float-seconds TIMESTAMP form exactly, without a double', () => {
    expect(timestampText('1.709214330123456E9')).toBe('2024-02-29 13:45:30.123456+00');
    expect(timestampText('-1.0E-6')).toBe('1969-12-31 23:59:59.999999+00');
    expect(timestampText('1.7E9')).toBe('2023-11-14 22:13:20+00');
  });

  it('decodes repeated records, floats that are not JSON numbers, DATETIME/TIME without fractions and INTERVAL', () => {
    const fields: BigqueryField[] = [
      {
        name: 'items',
        type: 'RECORD',
        mode: 'REPEATED',
        fields: [
          { name: 'sku', type: 'STRING' },
          { name: 'price', type: 'NUMERIC' },
          { name: 'ratio', type: 'FLOAT' },
          { name: 'at', type: 'TIMESTAMP' },
          { name: 'blob', type: 'BYTES' },
          { name: 'meta', type: 'JSON' },
          { name: 'ok', type: 'BOOLEAN' },
        ],
      },
      { name: 'dt', type: 'DATETIME' },
      { name: 't', type: 'TIME' },
      { name: 'span', type: 'INTERVAL' },
      { name: 'f', type: 'FLOAT' },
      { name: 'tags', type: 'STRING', mode: 'REPEATED' },
    ];
    expect(schemaFromFields(fields).columns.map((c) => formatType(c.type))).toEqual(['json[]', 'timestamp', 'time', 'interval', 'float64', 'text[]']);
    const decode = rowDecoder(fields);
    const [row] = decode([
      {
        f: [
          {
            v: [
              { v: { f: [{ v: 'a"1' }, { v: '0.000000001' }, { v: 'NaN' }, { v: '0' }, { v: 'AQI=' }, { v: '{"k":[1]}' }, { v: 'false' }] } },
              { v: { f: [{ v: null }, { v: null }, { v: '2.5' }, { v: null }, { v: null }, { v: null }, { v: null }] } },
            ],
          },
          { v: '2024-01-02T03:04:05' },
          { v: '03:04:05.000000' },
          { v: '1-2 3 4:5:6.5' },
          { v: '-Infinity' },
          { v: [] },
        ],
      },
    ]);
    expect(row).toEqual([
      [
        '{"sku":"a\\"1","price":0.000000001,"ratio":"NaN","at":"1970-01-01 00:00:00+00","blob":"AQI=","meta":{"k":[1]},"ok":false}',
        '{"sku":null,"price":null,"ratio":2.5,"at":null,"blob":null,"meta":null,"ok":null}',
      ],
      '2024-01-02 03:04:05',
      '03:04:05',
      '1-2 3 4:5:6.5',
      -Infinity,
      [],
    ]);
    for (const text of row[0] as string[]) expect(() => JSON.parse(text)).not.toThrow();
  });

  it('maps parameterised NUMERIC and BIGNUMERIC to their declared precision and scale', () => {
    const schema = schemaFromFields([
      { name: 'a', type: 'NUMERIC', precision: '10', scale: '2' },
      { name: 'b', type: 'NUMERIC', precision: '12' },
      { name: 'c', type: 'BIGNUMERIC', precision: '50', scale: '20' },
      { name: 'd', type: 'NUMERIC', mode: 'REQUIRED' },
    ]);
    expect(schema.columns.map((c) => [formatType(c.type), c.nullable])).toEqual([
      ['decimal(10,2)', true],
      ['decimal(12,0)', true],
      ['decimal(50,20)', true],
      ['decimal(38,9)', false],
    ]);
  });

  it('refuses a type with no logical mapping, naming the column', () => {
    expect(() => schemaFromFields([{ name: 'x', type: 'MYSTERY' }])).toThrow('model column "x": BigQuery type MYSTERY has no outflow logical type');
  });
});
