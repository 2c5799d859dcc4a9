/**
 * The GoogleSQL the shared BigQuery tests run, what real BigQuery answers for it (the fake
 * serves exactly these canned wire values for exactly this SQL text), and what the source
 * must turn it into.
 */
import type { Value } from '../../src/types/logical-type.js';
import type { BigqueryField, WireValue } from '../support/bigquery-fake-wire.js';

const nullable = (name: string, type: string): BigqueryField => ({ name, type, mode: 'NULLABLE' });

export const TYPES_SQL = `SELECT
  9223372036854775807 AS int_max,
  CAST('-9223372036854775808' AS INT64) AS int_min,
  CAST(NULL AS INT64) AS int_null,
  NUMERIC '12345678901234567890.123456789' AS num,
  BIGNUMERIC '-1234567890123456789012345678901234567.12345678901234567890123456789012345678' AS bignum,
  1.5 AS float_val,
  TIMESTAMP '2024-02-29 13:45:30.123456+00' AS ts,
  TIMESTAMP '1969-12-31 23:59:59.999999+00' AS ts_before_epoch,
  CAST(NULL AS TIMESTAMP) AS ts_null,
  DATE '1969-07-20' AS date_before_epoch,
  DATETIME '1969-07-20 20:17:40.5' AS datetime_val,
  TIME '23:59:59.999999' AS time_val,
  TRUE AS bool_val,
  b'\\x00\\xffoutflow' AS bytes_val,
  JSON '{"a":{"b":[1,2.5,"x"]},"c":null}' AS json_val,
  [3, 1, 2] AS int_list,
  STRUCT(9007199254740993 AS id, 'ünï' AS name, [DATE '2024-01-01', DATE '1900-02-28'] AS days) AS record_val,
  '' AS empty_text,
  CAST(NULL AS STRING) AS null_text,
  'héllo, wörld ✓ 🚀' AS unicode_text,
  ST_GEOGPOINT(1, 2) AS geo`;

export const TYPES_FIELDS: BigqueryField[] = [
  nullable('int_max', 'INTEGER'),
  nullable('int_min', 'INTEGER'),
  nullable('int_null', 'INTEGER'),
  nullable('num', 'NUMERIC'),
  nullable('bignum', 'BIGNUMERIC'),
  nullable('float_val', 'FLOAT'),
  nullable('ts', 'TIMESTAMP'),
  nullable('ts_before_epoch', 'TIMESTAMP'),
  nullable('ts_null', 'TIMESTAMP'),
  nullable('date_before_epoch', 'DATE'),
  nullable('datetime_val', 'DATETIME'),
  nullable('time_val', 'TIME'),
  nullable('bool_val', 'BOOLEAN'),
  nullable('bytes_val', 'BYTES'),
  nullable('json_val', 'JSON'),
  { name: 'int_list', type: 'INTEGER', mode: 'REPEATED' },
  {
    name: 'record_val',
    type: 'RECORD',
    mode: 'NULLABLE',
    fields: [nullable('id', 'INTEGER'), nullable('name', 'STRING'), { name: 'days', type: 'DATE', mode: 'REPEATED' }],
  },
  nullable('empty_text', 'STRING'),
  nullable('null_text', 'STRING'),
  nullable('unicode_text', 'STRING'),
  nullable('geo', 'GEOGRAPHY'),
];

/** BigQuery's JSON for the row: strings everywhere, TIMESTAMP as int64 microseconds, BYTES base64. */
export const TYPES_WIRE_ROW: WireValue[] = [
  '9223372036854775807',
  '-9223372036854775808',
  null,
  '12345678901234567890.123456789',
  '-1234567890123456789012345678901234567.12345678901234567890123456789012345678',
  '1.5',
  '1709214330123456',
  '-1',
  null,
  '1969-07-20',
  '1969-07-20T20:17:40.500000',
  '23:59:59.999999',
  'true',
  'AP9vdXRmbG93',
  '{"a":{"b":[1,2.5,"x"]},"c":null}',
  ['3', '1', '2'],
  ['9007199254740993', 'ünï', ['2024-01-01', '1900-02-28']],
  '',
  null,
  'héllo, wörld ✓ 🚀',
  'POINT(1 2)',
];

export const TYPES_SCHEMA: [string, string, boolean][] = [
  ['int_max', 'int64', true],
  ['int_min', 'int64', true],
  ['int_null', 'int64', true],
  ['num', 'decimal(38,9)', true],
  ['bignum', 'decimal(76,38)', true],
  ['float_val', 'float64', true],
  ['ts', 'timestamptz', true],
  ['ts_before_epoch', 'timestamptz', true],
  ['ts_null', 'timestamptz', true],
  ['date_before_epoch', 'date', true],
  ['datetime_val', 'timestamp', true],
  ['time_val', 'time', true],
  ['bool_val', 'bool', true],
  ['bytes_val', 'bytes', true],
  ['json_val', 'json', true],
  ['int_list', 'int64[]', false],
  ['record_val', 'json', true],
  ['empty_text', 'text', true],
  ['null_text', 'text', true],
  ['unicode_text', 'text', true],
  ['geo', 'text', true],
];

/** json_val is compared parsed: BigQuery may normalise JSON text (key order, spacing). */
export const TYPES_EXPECTED: Record<string, Value> = {
  int_max: 9223372036854775807n,
  int_min: -9223372036854775808n,
  int_null: null,
  num: '12345678901234567890.123456789',
  bignum: '-1234567890123456789012345678901234567.12345678901234567890123456789012345678',
  float_val: 1.5,
  ts: '2024-02-29 13:45:30.123456+00',
  ts_before_epoch: '1969-12-31 23:59:59.999999+00',
  ts_null: null,
  date_before_epoch: '1969-07-20',
  datetime_val: '1969-07-20 20:17:40.5',
  time_val: '23:59:59.999999',
  bool_val: true,
  bytes_val: new Uint8Array([0x00, 0xff, ...Buffer.from('outflow')]),
  int_list: [3n, 1n, 2n],
  // INT64 inside a record is written as a JSON number from its digits: 2^53 + 1 survives.
  record_val: '{"id":9007199254740993,"name":"ünï","days":["2024-01-01","1900-02-28"]}',
  empty_text: '',
  null_text: null,
  unicode_text: 'héllo, wörld ✓ 🚀',
  geo: 'POINT(1 2)',
};
export const TYPES_EXPECTED_JSON = { a: { b: [1, 2.5, 'x'] }, c: null };

export const ROW_COUNT = 25_000;
export const PAGING_SQL = `SELECT n, CONCAT('row ', CAST(n AS STRING)) AS label FROM UNNEST(GENERATE_ARRAY(1, ${ROW_COUNT})) AS n ORDER BY n`;
export const PAGING_FIELDS: BigqueryField[] = [nullable('n', 'INTEGER'), nullable('label', 'STRING')];
export function pagingWireRows(from = 1, to = ROW_COUNT): WireValue[][] {
  const rows: WireValue[][] = [];
  for (let n = from; n <= to; n++) rows.push([String(n), `row ${n}`]);
  return rows;
}

/** A public table, so the live suite can read a table model too; the fake serves a few of its rows. */
export const PUBLIC_TABLE = 'bigquery-public-data.samples.shakespeare';
export const PUBLIC_TABLE_FIELDS: BigqueryField[] = [
  { name: 'word', type: 'STRING', mode: 'REQUIRED' },
  { name: 'word_count', type: 'INTEGER', mode: 'REQUIRED' },
  { name: 'corpus', type: 'STRING', mode: 'REQUIRED' },
  { name: 'corpus_date', type: 'INTEGER', mode: 'REQUIRED' },
];
