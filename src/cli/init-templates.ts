/**
 * The commented blocks `outflow init` writes, one per source and destination type. Plain
 * text, so the comments survive; a test parses every combination so none drifts from the
 * schema.
 */
export const SOURCE_TEMPLATES: Record<string, string> = {
  duckdb: `source:
  type: duckdb
  path: warehouse.duckdb                 # a DuckDB file (relative to this file), or ":memory:"
  # SQL run when the source opens. A view over the CSV picks up every edit to the file.
  setup: CREATE OR REPLACE VIEW customers AS SELECT * FROM read_csv('customers.csv')
  # memory_limit: 512MB                  # unset: starts at 64MB and doubles when a run needs more
model:
  table: customers                       # or  query: SELECT id, email, plan FROM customers WHERE …`,
  files: `source:
  type: files
  path: data/*.parquet                   # globs of Parquet, CSV or JSON-lines files, relative to this file
  # format: parquet                      # unset: from the first file's extension
model:
  table: files                           # the files as one table; or  query: SELECT … FROM files WHERE …`,
  postgres: `source:
  type: postgres                         # Postgres or Redshift
  url: \${WAREHOUSE_URL}                  # postgres://user:password@host:5432/db, from the environment
  # ssl: { mode: verify-full, ca_file: ca.pem }
model:
  query: SELECT id, email, plan FROM analytics.customers`,
  mysql: `source:
  type: mysql                            # MySQL or MariaDB
  url: \${WAREHOUSE_URL}                  # mysql://user:password@host:3306/db, from the environment
model:
  table: customers`,
  bigquery: `source:
  type: bigquery
  project: \${GCP_PROJECT}                # the project that runs (and pays for) the queries
  dataset: analytics                     # default dataset for unqualified table names
  # key_file: \${GOOGLE_APPLICATION_CREDENTIALS}   # unset: Application Default Credentials
model:
  table: customers`,
};

export const DESTINATION_TEMPLATES: Record<string, string> = {
  pglite: `destination:
  type: pglite                           # an embedded Postgres in a folder: no server needed
  path: .outflow/pglite
  table: customers
  # create_table: true                   # default: created from the model's types when missing`,
  postgres: `destination:
  type: postgres
  url: \${DATABASE_URL}                   # postgres://user:password@host:5432/db, from the environment
  table: customers                       # schema-qualified names work: crm.customers
  # ssl: { mode: verify-full, ca_file: ca.pem }
  # cloudsql: { instance: "project:region:instance" }   # instead of url, with database/user/password (docs/cloudsql.md)
  # create_table: true                   # default: created from the model's types when missing`,
  mysql: `destination:
  type: mysql                            # MySQL 8 or MariaDB 10.6+; the server needs local_infile = ON
  url: \${MYSQL_URL}                      # mysql://user:password@host:3306/db, from the environment
  table: customers
  # ssl: { mode: verify-full, ca_file: ca.pem }
  # cloudsql: { instance: "project:region:instance" }   # instead of url, with database/user/password (docs/cloudsql.md)
  # create_table: true                   # default: created from the model's types when missing`,
  http: `destination:
  type: http                             # one POST of a JSON array per batch; a result per row
  url: https://api.example.com/customers
  headers: { Authorization: "Bearer \${API_TOKEN}" }   # header values never appear in logs
  batch_size: 100
  # max_requests_per_second: 5
  # changed: { method: PATCH, url: "https://api.example.com/customers/{id}" }
  # removed: { method: DELETE, url: "https://api.example.com/customers/{id}" }   # lets mode: mirror delete`,
  redis: `destination:
  type: redis                            # one hash per row, e.g. HGET customer:42 plan
  url: \${REDIS_URL}                      # redis://host:6379/0 (rediss:// for TLS)
  key: "customer:{id}"                   # {column} placeholders; a composite key uses several
  # format: json                         # one JSON string per key instead of a hash
  # ttl: 7d`,
};

export function pipelineTemplate(name: string, source: string, destination: string): string {
  return `# outflow pipeline: keeps the destination table in step with the model.
# Check it: outflow validate ${name}.yaml   Dry run: outflow preview ${name}.yaml   Run: outflow run ${name}.yaml
# Editors: point yaml-language-server at the output of \`outflow schema\` for completion.
name: ${name}
${SOURCE_TEMPLATES[source]}
${DESTINATION_TEMPLATES[destination]}
primary_key: id                          # one column or a list: [region, id]
# mapping:                               # model column → destination column (default: same names)
#   email: email_address
mode: upsert                             # insert | insert_new | upsert | update | mirror | replace
# max_delete_ratio: 0.5                  # mirror/replace refuse to delete more than this share
# every: 10m                             # for outflow serve; or  schedule: "0 * * * *"
# actions:                               # SQL before/after a run; {{target_table}} names the destination table
#   after: [{ name: analyze, sql: "ANALYZE {{target_table}}" }]
`;
}

export const SAMPLE_CSV = `id,email,plan
1,ada@example.com,pro
2,grace@example.com,free
3,edsger@example.com,pro
`;
