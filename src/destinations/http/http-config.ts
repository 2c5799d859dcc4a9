import { z } from 'zod';
import { duration } from '../../config/duration.js';

/**
 * `destination: { type: http, … }`. Secret fields are marked with `.meta({ secret: true })`:
 * their values are registered for redaction when the pipeline is loaded (env-substitution
 * treats every header value as secret) and are never logged, shown or returned by the API.
 */
const method = z.enum(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * A body template: JSON text in which `{{rows}}` (a request for a batch) or `{{row}}` (a
 * request per row) stands for the rows, e.g. `{"records": {{rows}}}`.
 */
const bodyTemplate = z
  .string()
  .min(1)
  .refine((t) => t.includes('{{rows}}') || t.includes('{{row}}'), 'a body template holding {{rows}} (a batch) or {{row}} (one row)');

/** Where a 2xx answer lists the rows it refused, as `array[].field` paths into its JSON body. */
const rowResults = z
  .strictObject({
    /** Position of a refused row in the request's rows (0-based), e.g. `errors[].index`. */
    index: z.string().regex(/^[A-Za-z0-9_.$-]*\[\]\.[A-Za-z0-9_.$-]+$/, 'a path such as errors[].index'),
    /** Its message, in the same array, e.g. `errors[].message`. */
    message: z
      .string()
      .regex(/^[A-Za-z0-9_.$-]*\[\]\.[A-Za-z0-9_.$-]+$/, 'a path such as errors[].message')
      .optional(),
    /** The index of the first row: 0 (default) or 1. */
    base: z.union([z.literal(0), z.literal(1)]).default(0),
  })
  .refine((r) => !r.message || r.message.split('[]')[0] === r.index.split('[]')[0], {
    message: 'index and message must be fields of the same array (e.g. errors[].index and errors[].message)',
  });

/** The request sent for one change kind: method, URL template with {column} placeholders, body template. */
const request = z.strictObject({
  method: method.optional(),
  url: z.string().min(1).meta({ secret: true }).optional(),
  body: bodyTemplate.optional(),
});

export const httpDestinationConfig = z.strictObject({
  type: z.literal('http'),
  /**
   * Where rows go; a `{column}` placeholder sends one request per row. A webhook URL is a
   * secret: only its host is ever shown.
   */
  url: z.string().url('an http(s) URL').meta({ secret: true }),
  method: method.default('POST'),
  /** Rows per request (requests for a batch). */
  batch_size: z.number().int().min(1).max(10_000).default(100),
  /** Header values, e.g. `Authorization: Bearer ${API_TOKEN}`: all secret, never logged. */
  headers: z.record(z.string(), z.string().meta({ secret: true })).default({}),
  body: bodyTemplate.optional(),
  /** Per change kind; `removed` enables `mirror` (e.g. `DELETE https://…/customers/{id}`). */
  added: request.optional(),
  changed: request.optional(),
  removed: request.optional(),
  /** Requests started per second, at most; a 429 lowers it further for a while. */
  max_requests_per_second: z.number().positive().max(10_000).optional(),
  /** Requests in flight at once. */
  concurrency: z.number().int().min(1).max(64).default(4),
  /** One request's time limit (to the end of the answer). */
  timeout: duration.default(30_000),
  row_results: rowResults.optional(),
  /** int64 beyond ±2^53 and decimals: JSON strings (default, exact in every reader) or numbers. */
  big_numbers: z.enum(['string', 'number']).default('string'),
});

export type HttpDestinationConfig = z.infer<typeof httpDestinationConfig>;

/** `http POST api.example.com`: method and host only — a URL's path may be a secret (a webhook's). */
export function httpDestinationLabel(config: Pick<HttpDestinationConfig, 'method' | 'url'>): string {
  try {
    return `http ${config.method} ${new URL(config.url.replace(/\{[^{}]*\}/g, 'x')).host}`;
  } catch {
    return `http ${config.method} (invalid URL)`;
  }
}
