import { z } from 'zod';
import { pipelineSchema } from './pipeline-schema.js';

type JsonSchema = {
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  required?: string[];
  const?: unknown;
  [k: string]: unknown;
};

let cached: JsonSchema | undefined;

/**
 * The JSON Schema of a pipeline file, generated from the zod schema that validates it (so the
 * two cannot drift): `outflow schema` prints it for editors, and config errors use it to name
 * the keys a mapping accepts. Input side: defaults are optional, durations are strings.
 */
export function pipelineJsonSchema(): JsonSchema {
  cached ??= {
    $id: 'https://github.com/outflow/outflow/pipeline.schema.json',
    title: 'outflow pipeline',
    ...(z.toJSONSchema(pipelineSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema),
  };
  return cached;
}

/** The alternatives of a union node; for a tagged union (source, destination), the one whose `type` the input names. */
function alternatives(node: JsonSchema, input: unknown): JsonSchema[] {
  const options = node.oneOf ?? node.anyOf;
  if (!options) return [node];
  const tag = input && typeof input === 'object' ? (input as { type?: unknown }).type : undefined;
  const tagged = options.filter((o) => o.properties?.type?.const !== undefined && o.properties.type.const === tag);
  return tagged.length ? tagged : options;
}

/** The keys a mapping at `path` of the pipeline accepts (all forms of a union together). */
export function acceptedKeys(path: PropertyKey[], root: unknown): string[] {
  let nodes = [pipelineJsonSchema()];
  let value: unknown = root;
  for (const key of path) {
    const next: JsonSchema[] = [];
    for (const n of nodes.flatMap((x) => alternatives(x, value))) {
      const child = typeof key === 'number' ? n.items : n.properties?.[String(key)];
      if (child) next.push(child);
    }
    nodes = next;
    value = value && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  }
  return [...new Set(nodes.flatMap((n) => alternatives(n, value)).flatMap((n) => Object.keys(n.properties ?? {})))];
}

/** The forms a union of mappings at `path` accepts, each named by its required keys: `{ table: … } or { query: … }`. */
export function acceptedForms(path: PropertyKey[]): string[] {
  let node: JsonSchema | undefined = pipelineJsonSchema();
  for (const key of path) node = typeof key === 'number' ? node?.items : node?.properties?.[String(key)];
  const options = node?.anyOf ?? node?.oneOf ?? [];
  return options.filter((o) => o.required?.length).map((o) => `{ ${o.required!.map((k) => `${k}: …`).join(', ')} }`);
}
