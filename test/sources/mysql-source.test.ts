import { randomBytes } from 'node:crypto';
import mysql from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlSource } from '../../src/sources/mysql/mysql-source.js';
import { mysqlSourceConfig } from '../../src/sources/mysql/mysql-config.js';
import { formatType, type Batch, type Value } from '../../src/types/logical-type.js';
import { ModelError, SchemaMismatchError } from '../../src/errors.js';

const URL = process.env.OUTFLOW_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const prefix = `outflow_src_${randomBytes(4).toString('hex')}`;
const created: string[] = [];

let admin: mysql.Connection;
let source: MysqlSource;

function sql(text: string): Promise<unknown> {
  return new Promise((resolve, reject) => admin.query(text, (err, rows) => (err ? reject(err) : resolve(rows))));
}

async function createTable(name: string, ddl: string): Promise<string> {
  const table = `${prefix}_${name}`;
  created.push(table);
  await sql(`CREATE TABLE \`${table}\` (${ddl})`);
  return table;
}

async function readAll(batches: AsyncIterable<Batch>): Promise<Value[][][]> {
  const out: Value[][][] = [];
  for await (const b of batches) out.push(b.rows);
  return out;
}

beforeAll(async () => {
  admin = mysql.createConnection({ uri: URL, multipleStatements: true, charset: 'utf8mb4' });
  source = await MysqlSource.open(mysqlSourceConfig.parse({ type: 'mysql', url: URL }), process.cwd());
});

afterAll(async () => {
  await source?.close();
  for (const t of created) await sql(`DROP TABLE IF EXISTS \`${t}\``);
  admin.end();
});

describe('mysql source', () => {
  it('reads a row of edge values exactly, and a row of NULLs', async () => {
    const table = await createTable(
      'edge',
      `id int NOT NULL PRIMARY KEY, b tinyint(1), ti tinyint, tiu tinyint unsigned, si smallint, siu smallint unsigned,
       mi mediumint, i int, iu int unsigned, bimin bigint, bimax bigint, biu bigint unsigned,
       d decimal(38,9), du decimal(10,2) unsigned, f float, db double, vc varchar(50), v_empty varchar(5), txt text,
       ch char(3), dt date, dtt datetime(6), ts timestamp(6) NULL, tm time(6), yr year, j json, u uuid,
       vb varbinary(10), bl blob, en enum('x','y'), bt bit(1), bits bit(12)`,
    );
    // TIMESTAMP is stored as an instant: written at +02:00, it reads back in UTC.
    await sql(`SET time_zone = '+02:00'`);
    await sql(`INSERT INTO \`${table}\` VALUES (
      1, 1, -128, 255, -32768, 65535, -8388608, 2147483647, 4294967295,
      -9223372036854775808, 9223372036854775807, 18446744073709551615,
      -12345678901234567890123456789.123456789, 99999999.99, 1.1, 1.7976931348623157e308,
      'héllo 😀 "q" \\\\ back', '', 'ünï 日本', 'ab', '1969-07-20', '1960-01-01 00:00:00.100000',
      '2024-01-01 12:00:00.123456', '-12:34:56.500000', 2024, '{"a": [1, {"b": null}], "é": "😀"}',
      '123e4567-e89b-12d3-a456-426614174000', x'00ff', x'0102', 'y', b'1', b'101010101010')`);
    await sql(`SET time_zone = '+00:00'`);
    await sql(`INSERT INTO \`${table}\` (id) VALUES (2)`);

    const model = { table };
    const described = await source.describe(model);
    expect(described.columns.map((c) => `${c.name}:${formatType(c.type)}${c.nullable ? '' : ' not null'}`)).toEqual([
      'id:int32 not null', 'b:bool', 'ti:int16', 'tiu:int16', 'si:int16', 'siu:int32', 'mi:int32', 'i:int32', 'iu:int64',
      'bimin:int64', 'bimax:int64', 'biu:decimal(20,0)', 'd:decimal(38,9)', 'du:decimal(10,2)', 'f:float32', 'db:float64',
      'vc:text', 'v_empty:text', 'txt:text', 'ch:text', 'dt:date', 'dtt:timestamp', 'ts:timestamptz', 'tm:time', 'yr:int16',
      'j:json', 'u:uuid', 'vb:bytes', 'bl:bytes', 'en:text', 'bt:bool', 'bits:bytes',
    ]);

    const rows = (await readAll(source.read(model, described, { batchSize: 100 }))).flat();
    rows.sort((a, b) => Number(a[0]) - Number(b[0]));
    expect(rows[0]).toEqual([
      1, true, -128, 255, -32768, 65535, -8388608, 2147483647, 4294967295n,
      -9223372036854775808n, 9223372036854775807n, '18446744073709551615',
      '-12345678901234567890123456789.123456789', '99999999.99', Math.fround(1.1), 1.7976931348623157e308,
      'héllo 😀 "q" \\ back', '', 'ünï 日本', 'ab', '1969-07-20', '1960-01-01 00:00:00.1',
      '2024-01-01 10:00:00.123456+00', '-12:34:56.5', 2024, '{"a": [1, {"b": null}], "é": "😀"}',
      '123e4567-e89b-12d3-a456-426614174000', new Uint8Array([0, 255]), new Uint8Array([1, 2]), 'y', true,
      new Uint8Array([0b1010, 0b10101010]),
    ]);
    expect(rows[1]).toEqual([2, ...new Array(described.columns.length - 1).fill(null)]);
  });

  it('streams 25,000 rows at batchSize 10,000 as 3 batches', async () => {
    const table = await createTable('big', 'id int PRIMARY KEY, h char(32)');
    await sql(`INSERT INTO \`${table}\`
      SELECT n, md5(n) FROM (
        SELECT a.d + b.d * 10 + c.d * 100 + e.d * 1000 + f.d * 10000 + 1 AS n
          FROM (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) a,
               (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) b,
               (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) c,
               (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) e,
               (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2) f) s
      WHERE n <= 25000`);
    const model = { table };
    const described = await source.describe(model);
    const batches = await readAll(source.read(model, described, { batchSize: 10_000 }));
    expect(batches.map((b) => b.length)).toEqual([10_000, 10_000, 5_000]);
    expect(new Set(batches.flat().map((r) => r[0])).size).toBe(25_000);

    // Stopping early drops the connection still receiving rows; the pool keeps working.
    for await (const batch of source.read(model, described, { batchSize: 1000 })) {
      expect(batch.rows).toHaveLength(1000);
      break;
    }
    const count = await readAll(source.read({ query: `SELECT count(*) AS n FROM \`${table}\`` }, await source.describe({ query: `SELECT count(*) AS n FROM \`${table}\`` }), { batchSize: 10 }));
    expect(count).toEqual([[[25_000n]]]);
  });

  it('filters on the incremental cursor with a bound parameter', async () => {
    const table = await createTable('cur', 'k varchar(10), n int');
    await sql(`INSERT INTO \`${table}\` VALUES ('a', 1), ('b''', 2), ('c', 3)`);
    const model = { table };
    const s = await source.describe(model);
    const after = async (column: string, value: string) =>
      (await readAll(source.read(model, s, { batchSize: 10, cursor: { column, after: value } }))).flat();
    expect(await after('k', 'a')).toEqual([["b'", 2], ['c', 3]]);
    expect(await after('k', "b' OR '1'='1")).toEqual([['c', 3]]);
    expect(await after('n', '2')).toEqual([['c', 3]]);
  });

  it('passes zero dates through unchanged so the destination rejects those rows', async () => {
    const table = await createTable('zero', 'id int, d date, dt datetime, ts timestamp NULL');
    await sql(`SET SESSION sql_mode = ''`);
    await sql(`INSERT INTO \`${table}\` VALUES (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00'), (2, '2024-00-15', '2024-02-00 10:00:00', NULL)`);
    await sql(`SET SESSION sql_mode = DEFAULT`);
    const model = { table };
    const rows = (await readAll(source.read(model, await source.describe(model), { batchSize: 10 }))).flat();
    expect(rows).toEqual([
      [1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00+00'],
      [2, '2024-00-15', '2024-02-00 10:00:00', null],
    ]);
  });

  it('refuses a TINYINT(1) holding something other than 0 or 1', async () => {
    const table = await createTable('flag', 'id int, flag tinyint(1)');
    await sql(`INSERT INTO \`${table}\` VALUES (1, 0), (2, 1), (3, 5)`);
    const model = { table };
    const err = await readAll(source.read(model, await source.describe(model), { batchSize: 10 })).catch((e) => e);
    expect(err).toBeInstanceOf(SchemaMismatchError);
    expect(err.message).toMatch(/"flag" is TINYINT\(1\).*holds 5.*CAST\(flag AS SIGNED\)/);
  });

  it('describes a query model and refuses spatial columns', async () => {
    const s = await source.describe({ query: 'SELECT 1.5 * 2 AS x, CAST(NULL AS DATETIME(3)) AS t, JSON_OBJECT(\'a\', 1) AS j' });
    expect(s.columns.map((c) => formatType(c.type))).toEqual(['decimal(3,1)', 'timestamp', 'json']);
    const err = await source.describe({ query: 'SELECT POINT(1, 2) AS p' }).catch((e) => e);
    expect(err).toBeInstanceOf(SchemaMismatchError);
    expect(err.message).toMatch(/"p".*ST_AsText/);
  });

  it('reports a missing table as a model error', async () => {
    const err = await source.describe({ table: `${prefix}_nope` }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect(err.message).toMatch(/doesn't exist/);
  });
});
