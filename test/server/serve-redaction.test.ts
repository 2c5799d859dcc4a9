import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { z } from 'zod';
import { SECRET_FIELD } from '../../src/config/env-substitution.js';
import { pipelineSchema } from '../../src/config/pipeline-schema.js';
import { sourceConfig } from '../../src/sources/source-configs.js';
import { destinationConfig } from '../../src/destinations/destination-configs.js';
import { tempDir, writeFile } from '../support/databases.js';
import { startTestServer, type TestServer } from './serve-fixtures.js';

type Path = (string | number)[];

/** Paths of every secret-bearing field under a zod schema (objects, arrays, optionals, unions). */
function secretPaths(schema: z.ZodType, path: Path = []): Path[] {
  const def = (schema as any)._zod.def;
  switch (def.type) {
    case 'object':
      return Object.entries(def.shape as Record<string, z.ZodType>).flatMap(([k, v]) =>
        SECRET_FIELD.test(k) && isStringLike(v) ? [[...path, k]] : secretPaths(v, [...path, k]),
      );
    case 'optional':
    case 'default':
    case 'nullable':
    case 'prefault':
      return secretPaths(def.innerType, path);
    case 'pipe':
      return secretPaths(def.in, path);
    case 'array':
      return secretPaths(def.element, [...path, 0]);
    case 'union':
      return def.options.flatMap((o: z.ZodType) => secretPaths(o, path));
    default:
      return [];
  }
}

function isStringLike(schema: z.ZodType): boolean {
  const def = (schema as any)._zod.def;
  if (def.type === 'string') return true;
  if (['optional', 'default', 'nullable', 'prefault'].includes(def.type)) return isStringLike(def.innerType);
  if (def.type === 'pipe') return isStringLike(def.in);
  return false;
}

/** A literal secret fit for the field, and the parts of it that must never be shown. */
function secretFor(field: string, n: number): { value: string; hidden: string[] } {
  const tag = `S${n}x${Math.random().toString(36).slice(2, 8)}`;
  if (/webhook$/i.test(field)) {
    return { value: `https://hooks.slack.com/services/T0/B0/${tag}path?token=${tag}query`, hidden: [`${tag}path`, `${tag}query`] };
  }
  if (/url$/i.test(field)) return { value: `postgres://app:${tag}pw@db.internal:5432/prod?sslpassword=${tag}ssl`, hidden: [`${tag}pw`, `${tag}ssl`] };
  return { value: `${tag}literal`, hidden: [`${tag}literal`] };
}

function setPath(target: any, path: Path, value: unknown): void {
  let node = target;
  path.forEach((k, i) => {
    if (i === path.length - 1) node[k] = value;
    else node = node[k] ??= typeof path[i + 1] === 'number' ? [] : {};
  });
}

/**
 * Every secret-bearing field the pipeline schema has (source, destination, alerts; found by
 * walking the schema, so a new connector's secret is covered), written into a file
 * literally: the config view and the API show none of it.
 */
describe('outflow serve: every secret-bearing field is redacted in the config view', () => {
  let server: TestServer;
  const files: { name: string; hidden: string[]; fields: string[] }[] = [];

  beforeAll(async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'pipelines'));
    const variants: { source: any; destination: any }[] = [];
    for (const s of sourceConfig.options) variants.push({ source: { type: (s as any).shape.type.value }, destination: { type: destinationConfig.options[0].shape.type.value } });
    for (const d of destinationConfig.options) variants.push({ source: { type: 'duckdb' }, destination: { type: (d as any).shape.type.value } });
    let n = 0;
    variants.forEach((v, i) => {
      const doc: any = { name: `p${i}`, source: v.source, model: { table: 't' }, destination: { ...v.destination, table: 't' }, primary_key: 'id', alerts: [{ on: 'failure' }] };
      const hidden: string[] = [];
      const fields: string[] = [];
      const place = (schema: z.ZodType, root: string, only: (s: any) => boolean) => {
        for (const path of secretPaths(schema)) {
          const full = [root, ...path];
          if (!only(full)) continue;
          const secret = secretFor(String(path.at(-1)), n++);
          setPath(doc, full, secret.value);
          hidden.push(...secret.hidden);
          fields.push(full.join('.'));
        }
      };
      const sourceSchema = sourceConfig.options.find((s: any) => s.shape.type.value === v.source.type)!;
      const destSchema = destinationConfig.options.find((d: any) => d.shape.type.value === v.destination.type)!;
      place(sourceSchema as z.ZodType, 'source', () => true);
      place(destSchema as z.ZodType, 'destination', () => true);
      const rest = pipelineSchema.shape;
      for (const key of Object.keys(rest).filter((k) => k !== 'source' && k !== 'destination')) place((rest as any)[key], key, () => true);
      writeFile(join(dir, 'pipelines', `p${i}.yaml`), stringify(doc));
      files.push({ name: `p${i}`, hidden, fields });
    });
    server = await startTestServer({ dir: join(dir, 'pipelines'), stateDir: join(dir, 'state'), env: {} });
  });
  afterAll(() => server?.stop());

  it('covers the fields the schema marks as secret: URLs, key files and alert webhooks', () => {
    const all = new Set(files.flatMap((f) => f.fields));
    expect([...all]).toEqual(expect.arrayContaining(['source.url', 'source.key_file', 'destination.url', 'alerts.0.webhook']));
    expect(files.length).toBe(sourceConfig.options.length + destinationConfig.options.length);
  });

  it('shows no part of any of them, in the config view or anywhere else in the API', async () => {
    for (const f of files) {
      const r = await server.get(`/api/pipelines/${f.name}/config`);
      expect(r.status).toBe(200);
      for (const secret of f.hidden) expect(r.text, `${f.name}: ${f.fields.join(', ')}`).not.toContain(secret);
      // The webhook's host stays, so the reader knows where alerts go; its path is cut.
      expect(r.body.text).toContain('https://hooks.slack.com/***');
      expect(r.body.text).not.toContain('/services/');
    }
    const everything = [(await server.get('/api/pipelines')).text, (await server.get('/metrics')).text, ...server.logs].join('\n');
    for (const secret of files.flatMap((f) => f.hidden)) expect(everything).not.toContain(secret);
  });
});
