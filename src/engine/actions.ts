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
}

/** Runs a hook's actions in order; the first failure stops and names the action. */
export async function runActions(p: Pipeline, hook: ActionHook, ctx: ActionContext): Promise<void> {
  for (const action of p.spec.actions[hook]) {
    const sql = action.sql.replace(/\{\{\s*(staging_table|target_table)\s*\}\}/g, (_, name: 'staging_table' | 'target_table') => {
      const v = ctx.names[name];
      if (!v) throw new ActionError(`action "${action.name}" (${hook}): {{${name}}} is not known at this point of the run`);
      return v;
    });
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
