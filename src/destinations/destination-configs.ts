import { z } from 'zod';
import { pgliteDestinationConfig, postgresDestinationConfig } from './postgres/postgres-config.js';

export const destinationConfig = z.discriminatedUnion('type', [postgresDestinationConfig, pgliteDestinationConfig]);
export type DestinationConfig = z.infer<typeof destinationConfig>;
