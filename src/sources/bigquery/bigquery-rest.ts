import { resolve } from 'node:path';
import { BigQuery, type BigQueryOptions } from '@google-cloud/bigquery';
import { OAuth2Client } from 'google-auth-library';
import { registerSecret } from '../../config/redact.js';
import { ACCESS_TOKEN_ENV, type BigquerySourceConfig } from './bigquery-config.js';
import { isRetryableBigqueryError, toOutflowError } from './bigquery-errors.js';

/** Attempts after the first, with the client's exponential backoff (about 2s, 4s, 8s, 16s, 32s plus jitter). */
const MAX_RETRIES = 5;

/**
 * The official client, configured for outflow. Auth, in order: a ready access token from
 * OUTFLOW_BIGQUERY_ACCESS_TOKEN (an OAuth2Client holding only that token, so nothing asks a
 * metadata server or token endpoint), else key_file, else Application Default Credentials.
 */
export function createBigqueryClient(config: BigquerySourceConfig, baseDir: string, env: NodeJS.ProcessEnv): BigQuery {
  const options: BigQueryOptions = {
    projectId: config.project,
    location: config.location,
    apiEndpoint: config.api_endpoint,
    userAgent: 'outflow',
    retryOptions: { autoRetry: true, maxRetries: MAX_RETRIES, retryableErrorFn: isRetryableBigqueryError },
  };
  const token = env[ACCESS_TOKEN_ENV];
  if (token) {
    registerSecret(token);
    // No expiry_date: google-auth-library then treats the token as valid and never refreshes it.
    options.authClient = new OAuth2Client({ credentials: { access_token: token } });
  } else if (config.key_file) {
    options.keyFilename = resolve(baseDir, config.key_file);
  }
  return new BigQuery(options);
}

export interface RestRequest {
  method: 'GET' | 'POST';
  /** The project in the URL (/projects/{projectId}/…). */
  projectId: string;
  /** The path after /projects/{projectId}, e.g. /queries/{jobId}. */
  uri: string;
  qs?: Record<string, string | number | boolean | undefined>;
  json?: unknown;
}

/**
 * One REST call through the client's request machinery (auth headers, endpoint, retry with
 * backoff on 5xx, 429 and rate/quota reasons). Raw JSON is kept on purpose: the client's
 * row parsing would turn INT64 and NUMERIC into JS numbers or wrapper objects.
 */
export function callBigquery<T>(client: BigQuery, req: RestRequest, context: string): Promise<T> {
  const qs = req.qs ? Object.fromEntries(Object.entries(req.qs).filter(([, v]) => v !== undefined)) : undefined;
  return new Promise<T>((resolvePromise, reject) => {
    client.request(
      { method: req.method, projectId: req.projectId, uri: req.uri, qs, json: req.method === 'POST' ? (req.json ?? {}) : undefined },
      (err, body) => {
        if (err) reject(toOutflowError(err, context));
        else resolvePromise(body as T);
      },
    );
  });
}
