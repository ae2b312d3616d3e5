// asyncio's small tools for Node: Semaphore, gather with a concurrency cap, withTimeout.
import { checkBoolean, checkInteger, typeName } from '../core/validate.js';
import { checkKnownOptions } from '../core/options.js';
import { checkTimeout, raceTimeout } from '../core/timeout.js';
import { abortErrorFrom, TimeoutError } from '../core/errors.js';
import { Future } from '../core/future.js';
import { boundedMap, checkMapOptions, type MapContext } from './map.js';
import { checkSignal, linkedController } from './signals.js';

/** Call once to give the permit back; later calls do nothing. */
export type Release = () => void;

interface Waiter {
  grant: (release: Release) => void;
}

/** A counting semaphore: at most `permits` holders at once, waiters served first come, first served. */
export class Semaphore {
  #available: number;
  readonly #waiters: Waiter[] = [];

  constructor(permits: number) {
    this.#available = checkInteger('Semaphore', 'permits', permits, 1);
  }

  get available(): number {
    return this.#available;
  }
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Waits for a permit; rejects with an AbortError if `signal` aborts first. */
  acquire(options?: { signal?: AbortSignal }): Promise<Release> {
    const signal = checkSignal('Semaphore.acquire', checkKnownOptions('Semaphore.acquire', options, ['signal']).signal);
    if (signal?.aborted) return Promise.reject(abortErrorFrom(signal, 'Semaphore.acquire: aborted'));
    const release = this.tryAcquire();
    if (release) return Promise.resolve(release);
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        grant: (r) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(r);
        },
      };
      const onAbort = () => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(abortErrorFrom(signal as AbortSignal, 'Semaphore.acquire: aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** A permit now, or null if none is free. */
  tryAcquire(): Release | null {
    if (this.#available === 0) return null;
    this.#available--;
    return this.#releaser();
  }

  /** Runs `fn` holding a permit, releasing it however fn ends. */
  async use<T>(fn: () => T | PromiseLike<T>, options?: { signal?: AbortSignal }): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError(`Semaphore.use: fn must be a function, got ${typeName(fn)}`);
    const signal = checkSignal('Semaphore.use', checkKnownOptions('Semaphore.use', options, ['signal']).signal);
    const release = await this.acquire(options);
    // The permit may have been handed over just before the abort: give it back without running fn.
    if (signal?.aborted) {
      release();
      throw abortErrorFrom(signal, 'Semaphore.use: aborted');
    }
    try {
      return await fn();
    } finally {
      release();
    }
  }

  #releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      // Hand the permit straight to the next waiter, so a newcomer's tryAcquire cannot jump the queue.
      if (next) next.grant(this.#releaser());
      else this.#available++;
    };
  }
}

export interface GatherOptions {
  /** Thunks started at once. Default: all of them. */
  concurrency?: number;
  /**
   * Aborting it stops starting thunks, aborts the signal running thunks were given, cancels Futures
   * among the tasks, and rejects with an AbortError.
   */
  signal?: AbortSignal;
  /** Failures become entries of the result array instead of rejecting, asyncio's return_exceptions. Default false. */
  returnExceptions?: boolean;
}

/** A task for gather: a value, a promise (a Future is cancelled with the gather), or a thunk given an AbortSignal. */
export type GatherTask<T> = T | PromiseLike<T> | ((signal: AbortSignal) => T | PromiseLike<T>);

function isCancellable(value: unknown): value is PromiseLike<unknown> & { cancel(reason?: unknown): boolean } {
  return value !== null && typeof value === 'object' && typeof (value as { cancel?: unknown }).cancel === 'function';
}

/** One task's outcome, its child signal aborting a Future task too. */
async function runTask<T>(task: GatherTask<T>, context: MapContext): Promise<T> {
  if (typeof task === 'function') return (task as (signal: AbortSignal) => T | PromiseLike<T>)(context.signal);
  if (!isCancellable(task)) return task;
  const cancel = () => task.cancel(context.signal.reason);
  context.signal.addEventListener('abort', cancel, { once: true });
  try {
    return await task;
  } finally {
    context.signal.removeEventListener('abort', cancel);
  }
}

/**
 * Promise.all with a cap: `tasks` are promises or functions (given an AbortSignal) returning a
 * value or promise; functions are started at most `concurrency` at a time. Results keep input
 * order; the first failure rejects (and aborts the rest), unless `returnExceptions` puts each
 * failure in its slot.
 */
export function gather<T>(
  tasks: Iterable<GatherTask<T>>,
  options: GatherOptions & { returnExceptions: true },
): Promise<unknown[]>;
export function gather<T>(tasks: Iterable<GatherTask<T>>, options?: GatherOptions): Promise<T[]>;
export function gather<T>(tasks: Iterable<GatherTask<T>>, options?: GatherOptions): Promise<unknown[]> {
  const opts = checkKnownOptions('gather', options, ['concurrency', 'signal', 'returnExceptions']);
  const settings = checkMapOptions(
    'gather',
    { concurrency: opts.concurrency, signal: opts.signal },
    Number.MAX_SAFE_INTEGER,
  );
  const returnExceptions =
    opts.returnExceptions === undefined ? false : checkBoolean('gather', 'returnExceptions', opts.returnExceptions);
  const run = returnExceptions
    ? (task: GatherTask<T>, context: MapContext) => runTask(task, context).catch((error: unknown) => error)
    : runTask<T>;
  return boundedMap<GatherTask<T>, unknown>('gather', tasks, run, settings).toArray();
}

export interface WithTimeoutOptions {
  /** Aborting it stops the wait with an AbortError and aborts the signal the work was given. */
  signal?: AbortSignal;
}

/**
 * Settles like `work`, or rejects with a TimeoutError after `ms` (Infinity: never). `work` may be a
 * promise or a function given an AbortSignal that aborts at the deadline or with the caller's
 * `signal`, so the work itself can stop. As asyncio.wait_for with timeout 0: a function is not
 * started and only an already settled Future gives its outcome; anything else times out.
 */
export function withTimeout<T>(
  work: PromiseLike<T> | ((signal: AbortSignal) => T | PromiseLike<T>),
  ms: number,
  options?: WithTimeoutOptions,
): Promise<T> {
  const timeout = checkTimeout('withTimeout', 'ms', ms);
  const signal = checkSignal('withTimeout', checkKnownOptions('withTimeout', options, ['signal']).signal);
  if (typeof work !== 'function' && (work === null || typeof work !== 'object' || typeof work.then !== 'function')) {
    throw new TypeError(`withTimeout: work must be a promise or a function, got ${typeName(work)}`);
  }
  const message = `withTimeout: timed out after ${ms} ms`;
  if (signal?.aborted) return Promise.reject(abortErrorFrom(signal, 'withTimeout: aborted'));
  if (timeout === 0 && !(work instanceof Future && work.done)) {
    if (isCancellable(work)) work.cancel(new TimeoutError(message));
    else if (typeof work !== 'function') work.then(undefined, () => {}); // dropped: its failure is no one's
    return Promise.reject(new TimeoutError(message));
  }
  const { controller, unlink } = linkedController(signal);
  const started = typeof work === 'function' ? new Promise<T>((resolve) => resolve(work(controller.signal))) : work;
  const aborted = new Promise<never>((_, reject) => {
    controller.signal.addEventListener(
      'abort',
      () => reject(abortErrorFrom(controller.signal, 'withTimeout: aborted')),
      { once: true },
    );
  });
  const raced = raceTimeout(Promise.race([started, aborted]), timeout, message, controller);
  return raced.finally(unlink);
}
