import { describe, expect, it } from 'vitest';
import { logicalFromMysqlColumn, mysqlColumnType, mysqlIncompatibility } from '../../src/destinations/mysql/mysql-column-types.js';
import { columnOfMysqlError, isRowLevelMysqlError, wrapMysqlError } from '../../src/destinations/mysql/mysql-errors.js';
import { ConnectionError, OutflowError, TransientError } from '../../src/errors.js';

describe('MySQL destination column types', () => {
  it.each([
    ['tinyint(1)', { kind: 'bool' }],
    ['tinyint(4)', { kind: 'int16' }],
    ['int(10) unsigned', { kind: 'int64' }],
    ['bigint(20)', { kind: 'int64' }],
    ['bigint(20) unsigned', { kind: 'decimal', precision: 20, scale: 0 }],
    ['decimal(12,2)', { kind: 'decimal', precision: 12, scale: 2 }],
    ['datetime(6)', { kind: 'timestamp' }],
    ['timestamp(6)', { kind: 'timestamptz' }],
    ['varchar(100)', { kind: 'text' }],
    ['varbinary(16)', { kind: 'bytes' }],
    ['uuid', { kind: 'uuid' }],
    ['json', { kind: 'json' }],
  ])('%s holds %o', (columnType, expected) => {
    expect(logicalFromMysqlColumn({ columnType, isJson: false })).toEqual(expected);
  });

  it("MariaDB's JSON is LONGTEXT with a json_valid() check", () => {
    expect(logicalFromMysqlColumn({ columnType: 'longtext', isJson: true })).toEqual({ kind: 'json' });
    expect(logicalFromMysqlColumn({ columnType: 'bit(1)', isJson: false })).toBeUndefined();
  });

  it('creates key text as VARCHAR, instants as DATETIME(6), and refuses what MySQL cannot hold', () => {
    expect(mysqlColumnType({ name: 'k', type: { kind: 'text' }, nullable: false }, true)).toBe('VARCHAR(255)');
    expect(mysqlColumnType({ name: 'v', type: { kind: 'text' }, nullable: true }, false)).toBe('LONGTEXT');
    expect(mysqlColumnType({ name: 't', type: { kind: 'timestamptz' }, nullable: true }, false)).toBe('DATETIME(6)');
    expect(mysqlColumnType({ name: 'd', type: { kind: 'decimal', precision: 76, scale: 38 }, nullable: true }, false)).toMatchObject({ unsupported: expect.stringMatching(/DECIMAL\(65,30\)/) });
    expect(mysqlColumnType({ name: 'a', type: { kind: 'array', element: { kind: 'int32' } }, nullable: true }, false)).toMatchObject({ unsupported: expect.stringMatching(/to_json/) });
  });

  it('refuses conversions that would degrade every value, allows those that fail per value', () => {
    const dec = (precision: number, scale: number) => ({ kind: 'decimal' as const, precision, scale });
    expect(mysqlIncompatibility(dec(12, 4), dec(12, 2), 'decimal(12,2)')).toMatch(/round 4 decimal places to 2/);
    expect(mysqlIncompatibility({ kind: 'float64' }, { kind: 'int64' }, 'bigint')).toMatch(/round or truncate/);
    expect(mysqlIncompatibility({ kind: 'text' }, { kind: 'bytes' }, 'blob')).toMatch(/not parsed/);
    expect(mysqlIncompatibility({ kind: 'int64' }, { kind: 'int32' }, 'int')).toBeUndefined();
    expect(mysqlIncompatibility({ kind: 'timestamptz' }, { kind: 'timestamp' }, 'datetime(6)')).toBeUndefined();
    expect(mysqlIncompatibility({ kind: 'uuid' }, { kind: 'text' }, 'char(36)')).toBeUndefined();
    expect(mysqlIncompatibility({ kind: 'int32' }, undefined, 'bit(1)')).toMatch(/does not write into bit\(1\)/);
  });
});

describe('MySQL destination faults', () => {
  const err = (errno: number, message: string, code?: string) => Object.assign(new Error(message), { errno, code, sqlMessage: message });

  it('finds the column in MySQL and MariaDB messages', () => {
    expect(columnOfMysqlError(err(1406, "Data too long for column 'abbreviation' at row 1"))).toBe('abbreviation');
    expect(columnOfMysqlError(err(1292, "Incorrect datetime value: 'bad' for column `test`.`t`.`ts` at row 1"))).toBe('ts');
    expect(columnOfMysqlError(err(4025, 'CONSTRAINT `t.j` failed for `test`.`t`'))).toBe('j');
  });

  it('sorts errors into row-level, transient, settings and the rest', () => {
    expect(isRowLevelMysqlError(err(1406, 'Data too long'))).toBe(true);
    expect(isRowLevelMysqlError(err(1064, 'syntax error'))).toBe(false);
    expect(wrapMysqlError('x', err(1213, 'Deadlock found', 'ER_LOCK_DEADLOCK'))).toBeInstanceOf(TransientError);
    expect(wrapMysqlError('x', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBeInstanceOf(TransientError);
    expect(wrapMysqlError('x', err(1045, "Access denied for user 'u'@'h' (using password: YES)"))).toBeInstanceOf(ConnectionError);
    expect(wrapMysqlError('x', err(3948, 'Loading local data is disabled')).message).toMatch(/local_infile = ON/);
    const other = wrapMysqlError('x', err(1146, "Table 'test.nope' doesn't exist"));
    expect(other).toBeInstanceOf(OutflowError);
    expect(other).not.toBeInstanceOf(TransientError);
  });
});
