import { watch } from 'chokidar';

export interface PipelineWatcher {
  close(): Promise<void>;
}

/**
 * Calls `onChange` once a burst of changes to pipeline files under `dir` (added, edited,
 * removed, in sub-folders too) has settled for `debounceMs`: an editor saving a file
 * (write, rename, chmod) or a `git pull` touching many makes one reload, not one per event.
 */
export async function watchPipelineFolder(dir: string, onChange: () => void, debounceMs = 300): Promise<PipelineWatcher> {
  let timer: NodeJS.Timeout | undefined;
  const watcher = watch(dir, {
    ignoreInitial: true,
    // Hidden entries and node_modules are skipped, as loadCatalog skips them; folders are
    // watched so that files added to them later are seen.
    ignored: (path, stats) => /(^|[/\\])(\.[^/\\]|node_modules([/\\]|$))/.test(path.slice(dir.length)) || (!!stats?.isFile() && !/\.ya?ml$/i.test(path)),
  });
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  };
  watcher.on('all', changed);
  // Until the first scan is done, new files count as already there (ignoreInitial): once it
  // is, one reload catches whatever changed between the caller's own load and now.
  await new Promise<void>((ok) => watcher.once('ready', ok));
  changed();
  return {
    async close() {
      clearTimeout(timer);
      await watcher.close();
    },
  };
}
