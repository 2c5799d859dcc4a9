import type { Pipeline } from '../config/load-pipeline.js';
import type { Destination } from '../destinations/destination.js';
import type { Source } from '../sources/source.js';
import { ActionError } from '../errors.js';
import { redact } from '../config/redact.js';

export type ActionHook = 'before' | 'after' | 'on_success' | 'on_failure';

export interface ActionContext {
  source?: Source;
  destination?: Destination;
  /** Quoted names substituted for {{staging_table}} and {{target_table}} in action SQL. */
  names: { staging_table?: string; target_table?: string };
  /** True once this run has begun staging rows: before that the staging table does not exist. */
  isStaged?: boolean;
  /** Told about an action that was skipped, and why. */
  onSkip?: (message: string) => void;
}

const STAGING = /\{\{\s*staging_table\s*\}\}/;

type Action = Pipeline['spec']['actions']['before'][number];

/** The action's SQL with {{staging_table}} and {{target_table}} replaced by the destination's quoted names. */
export function actionSql(action: Action, hook: ActionHook, names: ActionContext['names']): string {
  return action.sql.replace(/\{\{\s*(staging_table|target_table)\s*\}\}/g, (_, name: 'staging_table' | 'target_table') => {
    const v = names[name];
    if (!v) throw new ActionError(`action "${action.name}" (${hook}): {{${name}}} is not known at this point of the run`);
    return v;
  });
}

/**
 * What `validate` can tell about the destination's actions before any run: an action naming
 * a table that does not exist yet would fail the run there. Warnings, not errors: a `before`
 * action may be the one that creates it.
 */
export async function checkActions(p: Pipeline, destination: Destination, names: ActionContext['names']): Promise<string[]> {
  const warnings: string[] = [];
  for (const hook of ['before', 'after', 'on_success', 'on_failure'] as const) {
    for (const action of p.spec.actions[hook]) {
      if (action.on !== 'destination' || STAGING.test(action.sql) || !destination.checkStatement) continue;
      const problem = await destination.checkStatement(actionSql(action, hook, names));
      if (problem) warnings.push(`action "${action.name}" (${hook}): ${redact(problem)}; a run fails at this action unless the table exists by then`);
    }
  }
  return warnings;
}

/** Runs a hook's actions in order; the first failure stops and names the action. */
export async function runActions(p: Pipeline, hook: ActionHook, ctx: ActionContext): Promise<void> {
  for (const action of p.spec.actions[hook]) {
    // An on_failure "TRUNCATE {{staging_table}}" after a run that failed before staging has
    // nothing to act on; running it would only add a second, misleading failure to the report.
    if (STAGING.test(action.sql) && !ctx.isStaged) {
      ctx.onSkip?.(`action "${action.name}" (${hook}) skipped: it uses {{staging_table}} and this run created no staging table`);
      continue;
    }
    const sql = actionSql(action, hook, ctx.names);
    const where = action.on === 'source' ? ctx.source : ctx.destination;
    if (!where) throw new ActionError(`action "${action.name}" (${hook}): the ${action.on} is not connected`);
    if (!where.execute) throw new ActionError(`action "${action.name}" (${hook}): this ${action.on} cannot run SQL actions`);
    try {
      await where.execute(sql);
    } catch (e) {
      throw new ActionError(`action "${action.name}" (${hook}) failed: ${redact((e as Error).message)}`, { cause: e });
    }
  }
}
