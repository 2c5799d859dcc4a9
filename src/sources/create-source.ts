import type { Source } from './source.js';
import type { SourceConfig } from './source-configs.js';
import { DuckdbSource } from './duckdb/duckdb-source.js';

/** Opens the source a pipeline names. `baseDir` anchors relative paths (the pipeline's folder). */
export async function createSource(config: SourceConfig, baseDir: string): Promise<Source> {
  switch (config.type) {
    case 'duckdb':
      return DuckdbSource.open(config, baseDir);
  }
}
