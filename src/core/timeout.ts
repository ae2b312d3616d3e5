// The one timeout rule of the package and the one timer behind it. Node clamps a setTimeout delay
// outside [1, 2^31-1] ms to 1 ms, so `Infinity` or a 30-day deadline would fire at once: every
// timeout option is checked here (undefined or Infinity: none; negative or NaN: RangeError) and
// every deadline runs on setDeadline, which chains timers past the 2^31-1 ms limit.
import { typeName } from './validate.js';
import { TimeoutError } from './errors.js';

/** The longest delay one Node timer can wait. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A timeout option: a number of milliseconds >= 0, or `undefined`/`Infinity` for no timeout
 * (returned as undefined). NaN and negatives are RangeErrors, other types TypeErrors.
 */
export function checkTimeout(where: string, name: string, value: unknown): number | undefined {
  if (value === undefined || value === Infinity) return undefined;
  if (typeof value !== 'number')
    throw new TypeError(`${where}: ${name} must be a number of milliseconds, got ${typeName(value)}`);
  if (!(value >= 0))
    throw new RangeError(`${where}: ${name} must be >= 0 milliseconds (or Infinity for none), got ${value}`);
  return value;
}

/** A pending deadline: `clear()` stops it (idempotent). */
export interface Deadline {
  clear(): void;
}

export interface DeadlineOptions {
  /** false: the deadline alone does not keep the process alive. Default true. */
  ref?: boolean;
}

/**
 * Calls `onExpire` once after `ms` milliseconds; `undefined` never expires. Delays beyond one
 * timer's range are waited in a chain of timers.
 */
export function setDeadline(onExpire: () => void, ms: number | undefined, options: DeadlineOptions = {}): Deadline {
  if (ms === undefined || ms === Infinity) return { clear() {} };
  let timer: NodeJS.Timeout | undefined;
  let cleared = false;
  const due = Date.now() + ms;
  const arm = (delay: number) => {
    timer = setTimeout(() => {
      const left = due - Date.now();
      if (left > 0 && delay === MAX_TIMER_MS) arm(Math.min(left, MAX_TIMER_MS));
      else if (!cleared) onExpire();
    }, delay);
    if (options.ref === false) timer.unref();
  };
  arm(Math.min(ms, MAX_TIMER_MS));
  return {
    clear() {
      cleared = true;
      clearTimeout(timer);
    },
  };
}

/** Resolves after `ms` (chained past one timer's range), or rejects with the signal's reason once it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      deadline.clear();
      reject(signal?.reason);
    };
    const deadline = setDeadline(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Settles like `work`, or rejects with `timeoutError()` (a TimeoutError by default) after `ms`,
 * first aborting `controller` with that error so the work behind the promise can stop.
 * `undefined` waits forever.
 */
export function raceTimeout<T>(
  work: PromiseLike<T>,
  ms: number | undefined,
  message: string | (() => Error),
  controller?: AbortController,
): Promise<T> {
  if (ms === undefined) return Promise.resolve(work);
  return new Promise<T>((resolve, reject) => {
    const deadline = setDeadline(() => {
      const error = typeof message === 'string' ? new TimeoutError(message) : message();
      controller?.abort(error);
      reject(error);
    }, ms);
    work.then(
      (value) => {
        deadline.clear();
        resolve(value);
      },
      (error: unknown) => {
        deadline.clear();
        reject(error);
      },
    );
  });
}
