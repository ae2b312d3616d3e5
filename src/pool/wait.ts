// asCompleted and wait: concurrent.futures' helpers over Futures (or any promises). Both hand back
// the objects they were given, so a caller keeps its Future (state, cancel) rather than a value.
import { checkOneOf, checkOptions, typeName } from '../common/validate.js';
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

interface Settled<F> {
  item: F;
  failed: boolean;
}

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

/** Calls onSettled(item, failed) for each as it settles; returns nothing to await (no unhandled rejections). */
function watch<F extends PromiseLike<unknown>>(list: F[], onSettled: (s: Settled<F>) => void): void {
  for (const item of list) item.then(() => onSettled({ item, failed: false }), () => onSettled({ item, failed: true }));
}

/**
 * Yields each Future (or promise) as it settles, first settled first. Duplicates are yielded once.
 * `for await (const f of asCompleted(futures)) console.log(await f)`. With `timeout`, the
 * iteration throws a TimeoutError when that many ms pass before all have settled.
 */
export function asCompleted<F extends PromiseLike<unknown>>(futures: Iterable<F>, options?: AsCompletedOptions): AsyncIterableIterator<F> {
  const opts = checkOptions('asCompleted', options);
  const timeout = checkTimeout('asCompleted', opts.timeout);
  const list = toPromiseList<F>('asCompleted', futures);
  const ready: F[] = [];
  let wake: (() => void) | null = null;
  let yielded = 0;
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  watch(list, ({ item }) => {
    ready.push(item);
    wake?.();
  });
  if (timeout !== undefined && list.length > 0) {
    timer = setTimeout(() => {
      timedOut = true;
      wake?.();
    }, timeout);
  }
  const finish = (): IteratorResult<F> => {
    clearTimeout(timer);
    yielded = list.length;
    return { value: undefined, done: true };
  };
  // A hand-written iterator: an async generator would await each yielded promise and hand out its value.
  const iterator: AsyncIterableIterator<F> = {
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
      return { value: ready.shift() as F, done: false };
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
    watch(list, ({ item, failed }) => {
      done.add(item);
      if (returnWhen === 'FIRST_COMPLETED' || (returnWhen === 'FIRST_EXCEPTION' && failed) || done.size === list.length) finish();
    });
  });
}
