// asCompleted and wait: concurrent.futures' helpers over Futures (or any promises). Both hand back
// the objects they were given, so a caller keeps its Future (state, cancel, which input it was).
import { checkKnownOptions } from './options.js';
import { checkTimeout, type Deadline, setDeadline } from './timeout.js';
import { checkOneOf, typeName } from './validate.js';
import { TimeoutError } from './errors.js';
import { Future } from './future.js';

export type ReturnWhen = 'FIRST_COMPLETED' | 'FIRST_EXCEPTION' | 'ALL_COMPLETED';
const returnWhenValues: readonly ReturnWhen[] = ['FIRST_COMPLETED', 'FIRST_EXCEPTION', 'ALL_COMPLETED'];

export interface AsCompletedOptions {
  /** Milliseconds until the iteration throws a TimeoutError if some are still pending. Default: none (Infinity). */
  timeout?: number;
}

export interface WaitOptions extends AsCompletedOptions {
  /** When to return. Default 'ALL_COMPLETED'. */
  returnWhen?: ReturnWhen;
}

export interface WaitResult<F> {
  done: Set<F>;
  notDone: Set<F>;
}

/**
 * One settled future from asCompleted: the future itself plus its outcome. A record, not the bare
 * future: `for await` would not unwrap a yielded future at run time, but TypeScript types the loop
 * variable as if it did (Awaited<F>), so a bare future would be mistyped.
 */
export type Completion<F extends PromiseLike<unknown>> =
  | { future: F; ok: true; value: Awaited<F>; error?: undefined }
  | { future: F; ok: false; value?: undefined; error: unknown };

function toPromiseList<F extends PromiseLike<unknown>>(where: string, futures: unknown): F[] {
  if (
    futures === null ||
    typeof futures !== 'object' ||
    typeof (futures as Iterable<F>)[Symbol.iterator] !== 'function'
  ) {
    throw new TypeError(`${where}: futures must be an iterable of Futures or promises, got ${typeName(futures)}`);
  }
  const list = [...new Set(futures as Iterable<F>)];
  list.forEach((f, i) => {
    if (f === null || typeof f !== 'object' || typeof f.then !== 'function') {
      throw new TypeError(`${where}: futures[${i}] must be a Future or promise, got ${typeName(f)}`);
    }
  });
  return list;
}

/** Calls onSettled with each one's completion as it settles; returns nothing to await (no unhandled rejections). */
function watch<F extends PromiseLike<unknown>>(list: F[], onSettled: (c: Completion<F>) => void): void {
  for (const future of list) {
    future.then(
      (value) => onSettled({ future, ok: true, value: value as Awaited<F> }),
      (error: unknown) => onSettled({ future, ok: false, error }),
    );
  }
}

/**
 * Yields `{ future, ok, value | error }` for each Future (or promise) as it settles, first settled
 * first; duplicates once. A failure is reported, not thrown, so the loop goes on. With `timeout`,
 * the iteration throws a TimeoutError when that many ms pass before all have settled.
 */
export function asCompleted<F extends PromiseLike<unknown>>(
  futures: Iterable<F>,
  options?: AsCompletedOptions,
): AsyncIterableIterator<Completion<F>> {
  const opts = checkKnownOptions('asCompleted', options, ['timeout']);
  const timeout = checkTimeout('asCompleted', 'timeout', opts.timeout);
  const list = toPromiseList<F>('asCompleted', futures);
  // Only the count is kept: a future, once yielded, is the caller's to keep or drop (CPython #14406).
  const total = list.length;
  const ready: Completion<F>[] = [];
  let wake: (() => void) | null = null;
  let yielded = 0;
  let timedOut = false;
  let deadline: Deadline | undefined;
  watch(list, (completion) => {
    ready.push(completion);
    wake?.();
  });
  if (total > 0) {
    deadline = setDeadline(() => {
      timedOut = true;
      wake?.();
    }, timeout);
  }
  const finish = (): IteratorResult<Completion<F>> => {
    deadline?.clear();
    yielded = total;
    return { value: undefined, done: true };
  };
  const iterator: AsyncIterableIterator<Completion<F>> = {
    async next() {
      if (yielded >= total) return finish();
      while (ready.length === 0) {
        if (timedOut) {
          const pending = total - yielded;
          finish();
          throw new TimeoutError(`asCompleted: ${pending} of ${total} still pending after ${timeout} ms`);
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
      yielded++;
      if (yielded === total) deadline?.clear();
      return { value: ready.shift() as Completion<F>, done: false };
    },
    async return() {
      return finish();
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/**
 * Waits until the futures meet `returnWhen` (or `timeout` ms pass) and splits them into done and
 * notDone sets, as concurrent.futures.wait does. Never rejects because a future failed.
 */
export function wait<F extends PromiseLike<unknown>>(
  futures: Iterable<F>,
  options?: WaitOptions,
): Promise<WaitResult<F>> {
  const opts = checkKnownOptions('wait', options, ['timeout', 'returnWhen']);
  const timeout = checkTimeout('wait', 'timeout', opts.timeout);
  const returnWhen =
    opts.returnWhen === undefined
      ? 'ALL_COMPLETED'
      : checkOneOf('wait', 'returnWhen', opts.returnWhen, returnWhenValues);
  const list = toPromiseList<F>('wait', futures);
  const done = new Set<F>();
  let failed = false;
  // Futures that are already settled count at once, as in Python; plain promises report theirs in
  // the microtasks queued below, all before the deferred finish() of the first of them.
  for (const future of list) {
    if (future instanceof Future && future.done) {
      done.add(future);
      failed ||= future.state === 'rejected';
    }
  }
  const met = () =>
    done.size === list.length ||
    (returnWhen === 'FIRST_COMPLETED' && done.size > 0) ||
    (returnWhen === 'FIRST_EXCEPTION' && failed);
  return new Promise((resolve) => {
    let finished = false;
    // Read by finish(), which may run before the timer exists.
    let deadline: Deadline | undefined = undefined;
    const finish = () => {
      if (finished) return;
      finished = true;
      deadline?.clear();
      // Snapshot: futures settling after we return stay in notDone, as in Python.
      resolve({ done: new Set(done), notDone: new Set(list.filter((f) => !done.has(f))) });
    };
    if (met()) return finish();
    deadline = setDeadline(finish, timeout);
    watch(list, ({ future, ok }) => {
      if (finished) return;
      done.add(future);
      // As in Python, a cancelled Future is done but is no exception.
      failed ||= !ok && !(future instanceof Future && future.cancelled);
      if (met()) queueMicrotask(finish);
    });
  });
}
