// What Group.map and ClusterExecutor.map return, following the Pool's convention: an async
// iterable of results (input order, or completion order with `ordered: false`) plus toArray().
// The first failure is thrown where it is reached and cancels the tasks still pending; so does
// leaving a for-await loop early.
import type { Future } from './future.js';

export interface MapOptions {
  /** Yield results in input order (default) or as they complete. */
  ordered?: boolean;
}

export interface MapResult<T> extends AsyncIterable<T> {
  /** Every result, in input order (or completion order with `ordered: false`). */
  toArray(): Promise<T[]>;
  /** The Futures behind the results, in input order (state, cancel()). */
  readonly futures: readonly Future<T>[];
}

/** Indices of the futures as they settle, first settled first. */
async function* inCompletionOrder(futures: readonly PromiseLike<unknown>[]): AsyncGenerator<number> {
  const ready: number[] = [];
  let wake: (() => void) | null = null;
  futures.forEach((future, i) => {
    const settled = () => {
      ready.push(i);
      wake?.();
    };
    future.then(settled, settled);
  });
  for (let yielded = 0; yielded < futures.length; yielded++) {
    while (ready.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    yield ready.shift() as number;
  }
}

export function mapResult<T>(futures: readonly Future<T>[], ordered: boolean): MapResult<T> {
  async function* values(): AsyncGenerator<T> {
    try {
      if (ordered) for (const future of futures) yield await future;
      else for await (const i of inCompletionOrder(futures)) yield await futures[i];
    } finally {
      for (const future of futures) future.cancel();
    }
  }
  return {
    futures,
    [Symbol.asyncIterator]: values,
    async toArray() {
      const out: T[] = [];
      for await (const value of values()) out.push(value);
      return out;
    },
  };
}
