// Future: concurrent.futures.Future for Node. It is a real Promise (await it, pass it to
// Promise.all) that also reports its state synchronously and can be cancelled. The pool and the
// distributed executor both create Futures, so the asCompleted/wait helpers work across them.
import { checkKnownOptions } from './options.js';
import { callReporting } from './report.js';
import { checkTimeout, raceTimeout } from './timeout.js';
import { AbortError, InvalidStateError } from './errors.js';

export type FutureState = 'pending' | 'running' | 'fulfilled' | 'rejected' | 'cancelled';

/** What a Future's producer gets besides resolve/reject. */
export interface FutureControl {
  /** Aborted when the Future is cancelled: stop the work behind it. */
  readonly signal: AbortSignal;
  /** The work started (a queued task got a worker). Returns false once the Future is settled. */
  markRunning(): boolean;
  /** For work whose start is observed elsewhere (a flag a worker sets): consulted by `running`. */
  runningWhen(probe: () => boolean): void;
}

export interface FutureWaitOptions {
  /** Milliseconds to wait for the Future to settle; Infinity or undefined: no limit. */
  timeout?: number;
}

export type FutureExecutor<T> = (
  resolve: (value: T | PromiseLike<T>) => void,
  reject: (reason?: unknown) => void,
  control: FutureControl,
) => void;

const noop = () => {};

/**
 * A Promise with concurrent.futures' state and cancellation. A Future never reports an unhandled
 * rejection by itself: like Python's, it keeps its error for `await`, result() and exception().
 */
export class Future<T> extends Promise<T> {
  // then/catch/finally return plain Promises: derived promises have nothing to cancel.
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  #state: FutureState = 'pending';
  #value: T | undefined;
  #error: unknown;
  #settle!: { resolve: (value: T) => void; reject: (reason: unknown) => void };
  #locked = false;
  #abort = new AbortController();
  #runningProbe: (() => boolean) | null = null;
  #callbacks: Array<(future: Future<T>) => void> = [];

  constructor(executor: FutureExecutor<T>) {
    if (typeof executor !== 'function')
      throw new TypeError(`Future: executor must be a function, got ${typeof executor}`);
    let settle!: { resolve: (value: T) => void; reject: (reason: unknown) => void };
    super((resolve, reject) => {
      settle = { resolve, reject };
    });
    this.#settle = settle;
    super.then(undefined, noop);
    const control: FutureControl = {
      signal: this.#abort.signal,
      markRunning: () => {
        if (this.done) return false;
        this.#state = 'running';
        return true;
      },
      runningWhen: (probe) => {
        this.#runningProbe = probe;
      },
    };
    try {
      executor(
        (value) => this.#resolveWith(value),
        (reason) => this.#lockAndSettle('rejected', reason),
        control,
      );
    } catch (error) {
      this.#lockAndSettle('rejected', error);
    }
  }

  /** A Future already settled with `value`'s outcome (a value, a promise or a thenable). */
  static from<T>(value: T | PromiseLike<T>): Future<T> {
    return new Future<T>((resolve) => resolve(value));
  }

  get state(): FutureState {
    if (this.#state === 'pending' && this.#runningProbe?.()) this.#state = 'running';
    return this.#state;
  }
  /** Settled: fulfilled, rejected or cancelled. */
  get done(): boolean {
    return this.#state === 'fulfilled' || this.#state === 'rejected' || this.#state === 'cancelled';
  }
  get running(): boolean {
    return this.state === 'running';
  }
  get cancelled(): boolean {
    return this.#state === 'cancelled';
  }

  /**
   * Cancels a queued or running Future: it rejects with an AbortError and its producer's signal
   * aborts (a pool task is dequeued, or its worker stopped). Returns false if it had already settled.
   * Unlike Python's, a running Future can be cancelled too.
   */
  cancel(reason?: unknown): boolean {
    if (this.done) return false;
    const error =
      reason instanceof Error && reason.name === 'AbortError'
        ? reason
        : new AbortError('Future cancelled', { cause: reason });
    this.#finish('cancelled', error);
    this.#abort.abort(error);
    return true;
  }

  /**
   * The value, synchronously; throws the error if it failed, InvalidStateError if not settled yet.
   * With `{ timeout }` (ms, Infinity: none): a promise of the value that rejects with a TimeoutError
   * if the Future has not settled by then (the Future itself goes on), as Python's result(timeout).
   */
  result(): T;
  result(options: FutureWaitOptions): Promise<T>;
  result(options?: FutureWaitOptions): T | Promise<T> {
    if (options !== undefined) return this.#awaitSettled('Future.result', options).then(() => this.result());
    if (this.#state === 'fulfilled') return this.#value as T;
    if (this.done) throw this.#error;
    throw new InvalidStateError('Future.result: the future has not settled yet (await it instead)');
  }

  /**
   * The error it failed with, undefined if it succeeded; InvalidStateError if not settled yet. With
   * `{ timeout }`: a promise of it, rejecting with a TimeoutError if the Future is still pending then.
   */
  exception(): unknown;
  exception(options: FutureWaitOptions): Promise<unknown>;
  exception(options?: FutureWaitOptions): unknown {
    if (options !== undefined) return this.#awaitSettled('Future.exception', options).then(() => this.exception());
    if (!this.done) throw new InvalidStateError('Future.exception: the future has not settled yet (await it instead)');
    return this.#state === 'fulfilled' ? undefined : this.#error;
  }

  /**
   * Calls `callback(future)` once it settles (right away, asynchronously, if it already has). A
   * callback that throws is reported as a process warning (HOTPATH_CALLBACK_ERROR) and the others
   * still run, as Python logs and goes on.
   */
  addDoneCallback(callback: (future: Future<T>) => void): this {
    if (typeof callback !== 'function')
      throw new TypeError(`Future.addDoneCallback: callback must be a function, got ${typeof callback}`);
    if (this.done) queueMicrotask(() => this.#runCallback(callback));
    else this.#callbacks.push(callback);
    return this;
  }

  /** Resolves once settled (whatever the outcome), or rejects with a TimeoutError after `timeout` ms. */
  #awaitSettled(where: string, options: FutureWaitOptions): Promise<void> {
    const timeout = checkTimeout(where, 'timeout', checkKnownOptions(where, options, ['timeout']).timeout);
    const settled = Promise.resolve(this).then(noop, noop);
    return raceTimeout(settled, timeout, `${where}: the future did not settle within ${timeout} ms`);
  }

  #resolveWith(value: T | PromiseLike<T>): void {
    if (this.#locked) return;
    if (
      value !== null &&
      (typeof value === 'object' || typeof value === 'function') &&
      typeof (value as PromiseLike<T>).then === 'function'
    ) {
      this.#locked = true;
      (value as PromiseLike<T>).then(
        (v) => this.#finish('fulfilled', v),
        (e) => this.#finish('rejected', e),
      );
      return;
    }
    this.#lockAndSettle('fulfilled', value as T);
  }

  #lockAndSettle(state: 'fulfilled' | 'rejected', outcome: unknown): void {
    if (this.#locked) return;
    this.#locked = true;
    this.#finish(state, outcome);
  }

  #finish(state: 'fulfilled' | 'rejected' | 'cancelled', outcome: unknown): void {
    if (this.done) return;
    this.#locked = true;
    this.#state = state;
    this.#runningProbe = null;
    if (state === 'fulfilled') {
      this.#value = outcome as T;
      this.#settle.resolve(outcome as T);
    } else {
      this.#error = outcome;
      this.#settle.reject(outcome);
    }
    const callbacks = this.#callbacks;
    this.#callbacks = [];
    // Like the already-settled path: callbacks run after settling.
    for (const callback of callbacks) queueMicrotask(() => this.#runCallback(callback));
  }

  #runCallback(callback: (future: Future<T>) => void): void {
    callReporting('Future done-callback', callback, this);
  }
}
