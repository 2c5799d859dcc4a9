import { resolve } from 'node:path';
import { HistoryStore } from '../state/history-store.js';

/**
 * One open history store per state folder for the server's lifetime: the API reads history
 * on every request, and pipelines usually share one folder. Runs open their own store.
 */
export class HistoryStores {
  private readonly open = new Map<string, HistoryStore>();

  get(stateDir: string): HistoryStore {
    const key = resolve(stateDir);
    let store = this.open.get(key);
    if (!store) {
      store = HistoryStore.open(key);
      this.open.set(key, store);
    }
    return store;
  }

  closeAll(): void {
    for (const s of this.open.values()) s.close();
    this.open.clear();
  }
}
