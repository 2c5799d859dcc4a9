import type { Pipeline } from '../config/load-pipeline.js';
import type { Destination, TargetTable } from '../destinations/destination.js';
import type { Column, Schema } from '../types/logical-type.js';
import { formatType } from '../types/logical-type.js';
import { ConfigError, SchemaMismatchError } from '../errors.js';

/** Which model column lands in which destination column, with the model's types. */
export interface ColumnPlan {
  /** Model column names, in destination column order. */
  modelNames: string[];
  /** Destination columns (destination names, model types). */
  columns: Column[];
  /** Primary key, destination names. */
  keys: string[];
  /** Primary key, model names. */
  modelKeys: string[];
}

export function planColumns(p: Pipeline, model: Schema): ColumnPlan {
  const file = p.file.split('/').pop();
  const byName = new Map(model.columns.map((c) => [c.name, c]));
  const modelList = model.columns.map((c) => c.name).join(', ');
  const pairs: [string, string][] = p.spec.mapping ? Object.entries(p.spec.mapping) : model.columns.map((c) => [c.name, c.name]);
  for (const [from] of pairs) {
    if (!byName.has(from)) throw new ConfigError(`${file}: mapping.${from}: the model has no column "${from}" (it has: ${modelList})`);
  }
  for (const k of p.spec.primary_key) {
    if (!byName.has(k)) throw new ConfigError(`${file}: primary_key: the model has no column "${k}" (it has: ${modelList})`);
    if (!pairs.some(([from]) => from === k)) throw new ConfigError(`${file}: primary_key: column "${k}" is not in the mapping`);
  }
  if (p.spec.incremental && !byName.has(p.spec.incremental.cursor)) {
    throw new ConfigError(`${file}: incremental.cursor: the model has no column "${p.spec.incremental.cursor}" (it has: ${modelList})`);
  }
  const columns = pairs.map(([from, to]) => ({ ...byName.get(from)!, name: to }));
  const keyTo = new Map(pairs);
  return {
    modelNames: pairs.map(([from]) => from),
    columns,
    keys: p.spec.primary_key.map((k) => keyTo.get(k)!),
    modelKeys: p.spec.primary_key,
  };
}

/** Problems that stop the run before anything is written, each naming the column and why. */
export function checkTarget(p: Pipeline, plan: ColumnPlan, target: TargetTable, destination: Destination): string[] {
  const problems: string[] = [];
  const tname = `${target.schema}.${target.name}`;
  const byName = new Map(target.columns.map((c) => [c.name, c]));
  for (const col of plan.columns) {
    const t = byName.get(col.name);
    if (!t) {
      problems.push(
        `destination column "${col.name}" does not exist in table ${tname} (it has: ${target.columns.map((c) => c.name).join(', ')})`,
      );
      continue;
    }
    const why = destination.incompatibility?.(col.type, t);
    if (why) problems.push(`column "${col.name}": model type ${formatType(col.type)} does not fit ${tname}.${col.name} (${t.typeName}): ${why}`);
  }
  const needsUniqueKey = destination.capabilities.uniqueKeyModes.includes(p.spec.mode);
  const keySet = [...plan.keys].sort().join(',');
  if (needsUniqueKey && !target.uniqueKeys.some((u) => [...u].sort().join(',') === keySet)) {
    problems.push(
      `mode ${p.spec.mode} needs a primary key or unique constraint on (${plan.keys.join(', ')}) in ${tname}; it has ${
        target.uniqueKeys.length ? target.uniqueKeys.map((u) => `(${u.join(', ')})`).join(', ') : 'none'
      }`,
    );
  }
  return problems;
}

export function schemaMismatch(problems: string[], label: string): SchemaMismatchError {
  return new SchemaMismatchError(`the model does not fit ${label}:\n  - ${problems.join('\n  - ')}`);
}
