import { existsSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { defineCommand, EXIT } from './command.js';
import { DESTINATION_TEMPLATES, pipelineTemplate, SAMPLE_CSV, SOURCE_TEMPLATES } from './init-templates.js';

export const initCommand = defineCommand({
  name: 'init',
  args: '[file]',
  description: 'write a commented pipeline file for a source and a destination',
  options: [
    { flags: '--source <type>', description: `where the model lives: ${Object.keys(SOURCE_TEMPLATES).join(', ')}`, defaultValue: 'duckdb' },
    { flags: '--destination <type>', description: `where rows go: ${Object.keys(DESTINATION_TEMPLATES).join(', ')}`, defaultValue: 'pglite' },
    { flags: '--force', description: 'overwrite the file if it exists' },
  ],
  async run([file], opts, reporter) {
    const source = String(opts.source);
    const destination = String(opts.destination);
    if (!SOURCE_TEMPLATES[source]) throw new ConfigError(`--source: expected one of ${Object.keys(SOURCE_TEMPLATES).join(', ')}, got ${JSON.stringify(source)}`);
    if (!DESTINATION_TEMPLATES[destination]) {
      throw new ConfigError(`--destination: expected one of ${Object.keys(DESTINATION_TEMPLATES).join(', ')}, got ${JSON.stringify(destination)}`);
    }
    const path = resolve(file ?? 'pipeline.yaml');
    if (existsSync(path) && !opts.force) throw new ConfigError(`${path} exists; pass --force to overwrite it`);
    const name = basename(path, extname(path)).replace(/[^A-Za-z0-9_.-]/g, '_');
    const text = pipelineTemplate(name, source, destination);
    writeFileSync(path, text);
    const written = [path];
    // The DuckDB template reads customers.csv beside it: a sample makes `validate` and `run` work at once.
    const sample = join(dirname(path), 'customers.csv');
    if (source === 'duckdb' && !existsSync(sample)) {
      writeFileSync(sample, SAMPLE_CSV);
      written.push(sample);
    }
    reporter.data({ files: written, source, destination });
    reporter.line(`wrote ${written.join(', ')} (${source} → ${destination}); next: outflow validate ${file ?? 'pipeline.yaml'}`);
    return EXIT.ok;
  },
});
