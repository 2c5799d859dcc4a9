import { z } from 'zod';

export const bigquerySourceConfig = z.strictObject({
  type: z.literal('bigquery'),
  /** The project that runs (and is billed for) queries; also the default project of table models. */
  project: z.string().min(1),
  /** Default dataset for unqualified table names and for unqualified tables inside queries. */
  dataset: z.string().min(1).optional(),
  /** Where query jobs run (`US`, `EU`, `europe-west3`…); BigQuery infers it when absent. */
  location: z.string().min(1).optional(),
  /**
   * Path to a service-account JSON key, typically `${GOOGLE_APPLICATION_CREDENTIALS}`. When
   * absent, Application Default Credentials are used. The key itself never goes in the YAML.
   */
  key_file: z.string().min(1).optional(),
  /** Another REST endpoint (a private endpoint, or the local fake in tests), e.g. http://127.0.0.1:9050. */
  api_endpoint: z.string().url().optional(),
  /** Rows per REST page (maxResults); BigQuery may return fewer when a page passes ~10 MB. */
  page_size: z.number().int().min(1).max(100_000).default(10_000),
  /** `rest` reads pages over the JSON API. The Storage Read API is not implemented yet. */
  read_api: z
    .enum(['rest', 'storage'])
    .default('rest')
    .refine((api) => api === 'rest', {
      message: 'read_api: storage (the BigQuery Storage Read API) is not supported yet; use read_api: rest (the default)',
    }),
});
export type BigquerySourceConfig = z.infer<typeof bigquerySourceConfig>;

/** Env var holding a ready OAuth access token; wins over key_file and ADC (tests, `gcloud auth print-access-token`). */
export const ACCESS_TOKEN_ENV = 'OUTFLOW_BIGQUERY_ACCESS_TOKEN';
