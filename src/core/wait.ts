// asCompleted and wait: concurrent.futures' helpers over Futures (or any promises). Both hand back
// the objects they were given, so a caller keeps its Future (state, cancel, which input it was).
import { checkOneOf, checkOptions, typeName } from './validate.js';
import { TimeoutError } from './errors.js';

export type ReturnWhen = 'FIRST_COMPLETED' | 'FIRST_EXCEPTION' | 'ALL_COMPLETED';
const returnWhenValues: readonly ReturnWhen[] = ['FIRST_COMPLETED', 'FIRST_EXCEPTION', 'ALL_COMPLETED'];

export interface AsCompletedOptions {
  /** Milliseconds until the iteration throws a TimeoutError if some are still pending. Default: none. */
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

function checkTimeout(where: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw new TypeError(`${where}: timeout must be a number, got ${typeName(value)}`);
  if (!(value >= 0)) throw new RangeError(`${where}: timeout must be >= 0 milliseconds, got ${value}`);
  return value;
}

function toPromiseList<F extends PromiseLike<unknown>>(where: string, futures: unknown): F[] {
  if (futures === null || typeof futures !== 'object' || typeof (futures as Iterable<F>)[Symbol.iterator] !== 'function') {
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
export function asCompleted<F extends PromiseLike<unknown>>(futures: Iterable<F>, options?: AsCompletedOptions): AsyncIterableIterator<Completion<F>> {
  const opts = checkOptions('asCompleted', options);
  const timeout = checkTimeout('asCompleted', opts.timeout);
  const list = toPromiseList<F>('asCompleted', futures);
  const ready: Completion<F>[] = [];
  let wake: (() => void) | null = null;
  let yielded = 0;
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  watch(list, (completion) => {
    ready.push(completion);
    wake?.();
  });
  if (timeout !== undefined && list.length > 0) {
    timer = setTimeout(() => {
      timedOut = true;
      wake?.();
    }, timeout);
  }
  const finish = (): IteratorResult<Completion<F>> => {
    clearTimeout(timer);
    yielded = list.length;
    return { value: undefined, done: true };
  };
  const iterator: AsyncIterableIterator<Completion<F>> = {
    async next() {
      if (yielded >= list.length) return finish();
      while (ready.length === 0) {
        if (timedOut) {
          finish();
          throw new TimeoutError(`asCompleted: ${list.length - ready.length - yielded} of ${list.length} still pending after ${timeout} ms`);
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
      yielded++;
      if (yielded === list.length) clearTimeout(timer);
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
export function wait<F extends PromiseLike<unknown>>(futures: Iterable<F>, options?: WaitOptions): Promise<WaitResult<F>> {
  const opts = checkOptions('wait', options);
  const timeout = checkTimeout('wait', opts.timeout);
  const returnWhen = opts.returnWhen === undefined ? 'ALL_COMPLETED' : checkOneOf('wait', 'returnWhen', opts.returnWhen, returnWhenValues);
  const list = toPromiseList<F>('wait', futures);
  const done = new Set<F>();
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      // Snapshot: futures settling after we return stay in notDone, as in Python.
      resolve({ done: new Set(done), notDone: new Set(list.filter((f) => !done.has(f))) });
    };
    if (list.length === 0) return finish();
    if (timeout !== undefined) timer = setTimeout(finish, timeout);
    watch(list, ({ future, ok }) => {
      done.add(future);
      if (returnWhen === 'FIRST_COMPLETED' || (returnWhen === 'FIRST_EXCEPTION' && !ok) || done.size === list.length) finish();
    });
  });
}
