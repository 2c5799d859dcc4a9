/**
 * The "customer insights" model the benchmark loads: deterministic rows generated in
 * DuckDB from range(), so every run (and every machine) loads the same bytes. Values
 * exercise what the encoder must get right: exact decimals, microsecond timestamps with
 * time zone, NULLs, text with escapes (a tab and a backslash every 1,000th name).
 */

/** Columns of the Postgres target, the same for every method measured. */
export const PG_COLUMNS = [
  'id bigint PRIMARY KEY',
  'email text',
  'name text',
  'country char(2)',
  'lifetime_value numeric(12,2)',
  'orders int',
  'last_order_at timestamptz',
  'is_active boolean',
  'segment text',
];

export const COLUMN_NAMES = PG_COLUMNS.map((c) => c.split(' ')[0]);

/** Rows first..last of the model, as a DuckDB SELECT. */
export function modelRowsSql(first: number, last: number): string {
  return `SELECT i::BIGINT AS id,
    'customer' || i || '@example.com' AS email,
    (['Ada','Grace','Alan','Edsger','Barbara','Donald','Frances','Ken'])[(i % 8) + 1] || ' '
      || CASE WHEN i % 1000 = 0 THEN 'Back\\slash' || chr(9) || 'Tab' ELSE 'Customer ' || (i * 7919 % 100003) END AS name,
    (['US','DE','FR','GB','NL','JP','BR','IN','ES','CA'])[(i * 13 % 10) + 1] AS country,
    CAST((i * 7919 % 10000000) / 100 AS DECIMAL(12,2)) AS lifetime_value,
    CAST(i * 31 % 200 AS INTEGER) AS orders,
    TIMESTAMPTZ '2020-01-01 00:00:00+00' + to_microseconds(CAST(i * 9973331 % 126230400000000 AS BIGINT)) AS last_order_at,
    i % 3 <> 0 AS is_active,
    CASE WHEN i % 17 = 0 THEN NULL ELSE (['gold','silver','bronze','new'])[(i % 4) + 1] END AS segment
  FROM range(${first}, ${last + 1}) AS t(i)`;
}

/**
 * Changes for one incremental run: 1% of the rows get new values (a different 1% each
 * round) and 0.1% new rows are appended after `maxId`.
 */
export function changeSql(table: string, rows: number, maxId: number, round: number): { sql: string[]; changed: number; added: number } {
  const added = Math.max(1, Math.floor(rows / 1000));
  return {
    sql: [
      `UPDATE ${table} SET orders = orders + 1, lifetime_value = lifetime_value + 1 WHERE id % 100 = ${round % 100} AND id <= ${rows}`,
      `INSERT INTO ${table} ${modelRowsSql(maxId + 1, maxId + added)}`,
    ],
    changed: Math.floor(rows / 100),
    added,
  };
}

/**
 * The model's rows with each value as the text outflow's Redis destination writes into a
 * hash field (ISO-8601 timestamps, true/false), for the hand-written loaders it is
 * measured against.
 */
export const REDIS_TEXT_SQL = (table: string) => `SELECT CAST(id AS VARCHAR), email, name, country, CAST(lifetime_value AS VARCHAR),
    CAST(orders AS VARCHAR), strftime(last_order_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ'), CAST(is_active AS VARCHAR), segment
  FROM ${table}`;

/** The pipeline every bench run of outflow uses: the model table of `warehouse`, upserted by id into `destination` (YAML lines). */
export function benchPipelineYaml(name: string, warehouse: string, destination: string, stateDir: string): string {
  return `name: ${name}
source:
  type: duckdb
  path: ${warehouse}
  read_only: true
model:
  table: customers
destination:
${destination
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
primary_key: id
mode: upsert
state:
  dir: ${stateDir}
`;
}
