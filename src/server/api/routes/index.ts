import type { RouteModule } from '../api-server.js';
import { pipelineRoutes } from './pipeline-routes.js';
import { runRoutes } from './run-routes.js';
import { liveRoutes } from './live-routes.js';
import { uiRoutes } from './ui-routes.js';

/**
 * Every route file. A new endpoint is a `api.route({...})` in the file of its resource
 * (pipelines, runs, live status); a new resource is a new file listed here.
 */
export const ROUTE_MODULES: RouteModule[] = [pipelineRoutes, runRoutes, liveRoutes, uiRoutes];
