import pg from 'pg';
import { PG_URL, pgPrimaryKey } from './databases.js';
import { rowsOf, startTestApi, type TestApi } from './http-test-server.js';

/**
 * A JSON API written for the tests, keeping its records in a real Postgres table, so the
 * conformance suite can look at what an HTTP destination delivered with the same SQL it
 * uses for a database (and a row Postgres refuses is refused by the API, with Postgres'
 * message, as a CRM refuses an invalid field):
 *   POST   /records                      upsert a JSON array of records (one transaction: all or none)
 *   POST   /records?on_conflict=ignore   insert the new ones, leave existing keys alone
 *   PATCH  /records/<key…>               update one record; 404 when it does not exist
 *   DELETE /records/<key…>               delete one record; 404 when it does not exist
 * A refused request answers 422 `{ "message": <Postgres' message> }`.
 */
export async function startPgBackedApi(table: string): Promise<TestApi & { base: string }> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  const t = client.escapeIdentifier(table);
  const cols = async () =>
    (await client.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`, [table])).rows.map(
      (r) => r.column_name,
    );
  const q = (c: string) => client.escapeIdentifier(c);
  const primaryKey = () => pgPrimaryKey(client, table);
  const api = await startTestApi(async (r) => {
    const keys = await primaryKey();
    const [path, query] = r.url.split('?');
    const parts = path.split('/').filter(Boolean).slice(1).map(decodeURIComponent);
    const where = keys.map((k, i) => `${q(k)}::text = $${i + 1}`).join(' AND ');
    try {
      if (r.method === 'POST') {
        const names = await cols();
        const values = names.filter((c) => !keys.includes(c));
        const onConflict =
          query === 'on_conflict=ignore' || values.length === 0
            ? 'DO NOTHING'
            : `DO UPDATE SET ${values.map((c) => `${q(c)} = EXCLUDED.${q(c)}`).join(', ')}`;
        await client.query(
          `INSERT INTO ${t} SELECT * FROM json_populate_recordset(NULL::${t}, $1::json) ON CONFLICT (${keys.map(q).join(', ')}) ${onConflict}`,
          [JSON.stringify(rowsOf(r))],
        );
        return { status: 200, body: { ok: true } };
      }
      if (r.method === 'PATCH') {
        const record = r.json as Record<string, unknown>;
        const names = (await cols()).filter((c) => !keys.includes(c) && c in record);
        const set = names.map((c) => `${q(c)} = (json_populate_record(NULL::${t}, $${keys.length + 1}::json)).${q(c)}`).join(', ');
        if (!set) return { status: 200 };
        const n = (await client.query(`UPDATE ${t} SET ${set} WHERE ${where}`, [...parts, JSON.stringify(record)])).rowCount;
        return n ? { status: 200 } : { status: 404, body: { message: 'no such record' } };
      }
      if (r.method === 'DELETE') {
        const n = (await client.query(`DELETE FROM ${t} WHERE ${where}`, parts)).rowCount;
        return n ? { status: 204 } : { status: 404, body: { message: 'no such record' } };
      }
      return { status: 405 };
    } catch (e) {
      return { status: 422, body: { message: (e as Error).message } };
    }
  });
  const close = api.close;
  return {
    ...api,
    base: `${api.url}/records`,
    close: async () => {
      await close();
      await client.end();
    },
  };
}
