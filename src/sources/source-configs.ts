import { z } from 'zod';
import { duckdbSourceConfig } from './duckdb/duckdb-config.js';

/**
 * Every source's config schema, discriminated by `type`. A new source adds its schema
 * here and its factory in sources/create-source.ts.
 */
export const sourceConfig = z.discriminatedUnion('type', [duckdbSourceConfig]);
export type SourceConfig = z.infer<typeof sourceConfig>;
