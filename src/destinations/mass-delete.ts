import { MassDeleteError } from '../errors.js';

/**
 * The mass-delete guard, the one rule and message for every destination: a run that would
 * delete more than `maxDeleteRatio` of the rows fails before anything is written, unless
 * --allow-mass-delete was given (`maxDeleteRatio` undefined). Bulk destinations apply it
 * inside their merge transaction, where the target's count is exact; for record
 * destinations the engine applies it against the snapshot before sending anything.
 */
export function guardMassDelete(g: { label: string; mode: string; doomed: number; total: number; maxDeleteRatio: number | undefined; of?: string }): void {
  if (g.maxDeleteRatio === undefined || g.total === 0) return;
  if (g.doomed / g.total <= g.maxDeleteRatio) return;
  throw new MassDeleteError(
    `${g.label}: ${g.mode} would delete ${g.doomed} of ${g.total} ${g.of ?? 'rows'} (${pct(g.doomed / g.total)}), more than max_delete_ratio ${g.maxDeleteRatio} (${pct(g.maxDeleteRatio)}); nothing was written. ` +
      `If the model really shrank, run again with --allow-mass-delete.`,
  );
}

function pct(x: number): string {
  return `${Math.round(x * 1000) / 10}%`;
}
