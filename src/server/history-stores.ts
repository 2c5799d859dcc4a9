import { resolve } from 'node:path';
import { openHistory, type History, type HistoryLocation } from '../state/history.js';

/**
 * One open history per state folder or state database for the server's lifetime: the API
 * reads history on every request, and pipelines usually share one. Runs open their own.
 */
export class HistoryStores {
  private readonly open = new Map<string, Promise<History>>();

  /** The history a pipeline keeps its runs in: its state database when it has one, else its state folder. */
  get(at: HistoryLocation): Promise<History> {
    const key = historyKey(at);
    let store = this.open.get(key);
    if (!store) {
      store = openHistory(at.stateUrl ? at : { stateDir: key });
      // A failed open is not kept: the next request tries again (the database may be back).
      store.catch(() => this.open.delete(key));
      this.open.set(key, store);
    }
    return store;
  }

  async closeAll(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(all.map(async (s) => (await s.catch(() => undefined))?.close()));
  }
}

/** Pipelines with the same key share one history (and number their runs together). */
export function historyKey(at: HistoryLocation): string {
  return at.stateUrl ? `url:${at.stateUrl}` : resolve(at.stateDir);
}
