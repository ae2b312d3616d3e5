// asyncio's small tools for Node: Semaphore, gather with a concurrency cap, withTimeout.
import { checkInteger, checkOptions, typeName } from '../core/validate.js';
import { abortErrorFrom } from '../core/errors.js';
import { checkMapOptions, checkNonNegative, boundedMap } from './map.js';
import { checkSignal, raceTimeout } from './signals.js';

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
    const signal = checkSignal('Semaphore.acquire', checkOptions('Semaphore.acquire', options).signal);
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
    const release = await this.acquire(options);
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
  /** Stops starting thunks and rejects with an AbortError. */
  signal?: AbortSignal;
}

/**
 * Promise.all with a cap: `tasks` are promises or functions returning a value or promise; functions
 * are started at most `concurrency` at a time. Results keep input order; the first failure rejects.
 */
export function gather<T>(tasks: Iterable<T | PromiseLike<T> | (() => T | PromiseLike<T>)>, options?: GatherOptions): Promise<T[]> {
  const opts = checkOptions('gather', options);
  const settings = checkMapOptions('gather', { concurrency: opts.concurrency, signal: opts.signal }, Number.MAX_SAFE_INTEGER);
  const run = (task: T | PromiseLike<T> | (() => T | PromiseLike<T>)) => (typeof task === 'function' ? (task as () => T | PromiseLike<T>)() : task);
  return boundedMap('gather', tasks, run, settings).toArray();
}

/**
 * Settles like `work`, or rejects with a TimeoutError after `ms`. `work` may be a promise or a
 * function given an AbortSignal that aborts at the deadline, so the work itself can stop.
 */
export function withTimeout<T>(work: PromiseLike<T> | ((signal: AbortSignal) => T | PromiseLike<T>), ms: number): Promise<T> {
  checkNonNegative('withTimeout', 'ms', ms);
  if (typeof work === 'function') {
    const controller = new AbortController();
    const promise = new Promise<T>((resolve) => resolve(work(controller.signal)));
    return raceTimeout(promise, ms, `withTimeout: timed out after ${ms} ms`, controller);
  }
  if (work === null || typeof work !== 'object' || typeof work.then !== 'function') {
    throw new TypeError(`withTimeout: work must be a promise or a function, got ${typeName(work)}`);
  }
  return raceTimeout(work, ms, `withTimeout: timed out after ${ms} ms`);
}
