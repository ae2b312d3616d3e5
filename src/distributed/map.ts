// map() for Group and ClusterExecutor on the Pool's engine (src/async/map.ts): items are read
// lazily, at most `concurrency` Futures are in flight, results come out in input order or as they
// complete, and stopping early (break, error, signal) cancels the Futures still running.
import { boundedMap, checkMapOptions, type ResultStream } from '../async/map.js';
import { checkKnownOptions } from '../core/options.js';
import { typeName } from '../core/validate.js';
import type { Future } from '../core/future.js';
import { knownLength, type MapProgress } from '../core/map-progress.js';

export interface DistributedMapOptions {
  /** Yield results in input order (default) or as they complete. */
  ordered?: boolean;
  /** Tasks in flight at once (the rest of the input is not read yet). */
  concurrency?: number;
  /** Aborting it cancels the running tasks; the iteration throws an AbortError. */
  signal?: AbortSignal;
  /** Called as each result arrives. */
  onProgress?: (progress: MapProgress) => void;
}

export function mapFutures<T, R>(
  where: string,
  items: unknown,
  /** Starts one item's task; `progress` is the map's live `{ completed, total }`. */
  submit: (item: T, index: number, progress: Readonly<MapProgress>) => Future<R>,
  options: unknown,
  defaultConcurrency: number,
  extraOptions: readonly string[] = [],
): ResultStream<R> {
  const opts = checkKnownOptions(where, options, [
    'ordered',
    'concurrency',
    'signal',
    'onProgress',
    ...extraOptions,
  ]) as DistributedMapOptions;
  const onProgress = opts.onProgress;
  if (onProgress !== undefined && typeof onProgress !== 'function')
    throw new TypeError(`${where}: onProgress must be a function, got ${typeName(onProgress)}`);
  const settings = checkMapOptions(
    where,
    { concurrency: opts.concurrency, ordered: opts.ordered, signal: opts.signal },
    defaultConcurrency,
  );
  const progress: MapProgress = { completed: 0, total: knownLength(items) };
  return boundedMap<T, R>(
    where,
    items,
    async (item, context) => {
      const future = submit(item, context.index, progress);
      const cancel = () => future.cancel(context.signal.reason);
      context.signal.addEventListener('abort', cancel);
      try {
        const value = await future;
        progress.completed++;
        onProgress?.({ ...progress });
        return value;
      } finally {
        context.signal.removeEventListener('abort', cancel);
      }
    },
    { ...settings, timeout: undefined, retries: 0, backoff: 0 },
  );
}
