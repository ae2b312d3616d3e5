// mapAsync: asyncio's bounded gather for Node. Items are pulled from the source only as results
// are consumed, so an infinite generator is fine: at most `concurrency` calls run and at most
// `concurrency` finished results wait to be yielded.
import { checkKnownOptions } from '../core/options.js';
import { checkBoolean, checkInteger, typeName } from '../core/validate.js';
import { AbortError, abortErrorFrom } from '../core/errors.js';
import { checkTimeout, raceTimeout, sleep } from '../core/timeout.js';
import { checkSignal, linkedController } from './signals.js';

export interface MapContext {
  /** Position of the item in the source. */
  index: number;
  /** 0 for the first try, then 1, 2, ... for retries. */
  attempt: number;
  /** Aborted on timeout, on the caller's signal, or when the iteration stops early: stop the work. */
  signal: AbortSignal;
}

export type MapFunction<T, R> = (item: T, context: MapContext) => R | PromiseLike<R>;
export type Backoff = number | ((attempt: number, error: unknown) => number);

export interface MapAsyncOptions {
  /** Calls running at once. Default 8. */
  concurrency?: number;
  /** Milliseconds per attempt before it fails with a TimeoutError (and its signal aborts). Default: none (Infinity). */
  timeout?: number;
  /** Extra attempts after a failure (not after the caller's abort). Default 0. */
  retries?: number;
  /**
   * Delay before retry n: a base in ms doubled each retry (base * 2^(n-1)), or a function
   * (n, error) => ms. Default 100.
   */
  backoff?: Backoff;
  /** Aborting it stops the iteration with an AbortError and aborts running calls. */
  signal?: AbortSignal;
  /** Yield in source order (default) or as results complete. */
  ordered?: boolean;
}

/** An async iterable of results, with toArray() to collect them. */
export class ResultStream<R> implements AsyncIterable<R> {
  readonly #iterate: () => AsyncGenerator<R>;

  constructor(iterate: () => AsyncGenerator<R>) {
    this.#iterate = iterate;
  }

  [Symbol.asyncIterator](): AsyncGenerator<R> {
    return this.#iterate();
  }

  /** Every result in one array (only for finite sources). */
  async toArray(): Promise<R[]> {
    const out: R[] = [];
    for await (const value of this) out.push(value);
    return out;
  }
}

export interface MapSettings {
  concurrency: number;
  timeout: number | undefined;
  retries: number;
  backoff: Backoff;
  signal: AbortSignal | undefined;
  ordered: boolean;
}

export function checkMapOptions(where: string, options: unknown, defaultConcurrency: number): MapSettings {
  const opts = checkKnownOptions(where, options, ['concurrency', 'timeout', 'retries', 'backoff', 'signal', 'ordered']);
  const backoff = opts.backoff ?? 100;
  if (typeof backoff !== 'function') checkNonNegative(where, 'backoff', backoff);
  return {
    concurrency:
      opts.concurrency === undefined ? defaultConcurrency : checkInteger(where, 'concurrency', opts.concurrency, 1),
    timeout: checkTimeout(where, 'timeout', opts.timeout),
    retries: opts.retries === undefined ? 0 : checkInteger(where, 'retries', opts.retries, 0),
    backoff: backoff as Backoff,
    signal: checkSignal(where, opts.signal),
    ordered: opts.ordered === undefined ? true : checkBoolean(where, 'ordered', opts.ordered),
  };
}

export function checkNonNegative(where: string, name: string, value: unknown): number {
  if (typeof value !== 'number') throw new TypeError(`${where}: ${name} must be a number, got ${typeName(value)}`);
  if (!(value >= 0) || value === Infinity)
    throw new RangeError(`${where}: ${name} must be a finite number >= 0, got ${value}`);
  return value;
}

type AnyIterator<T> = Iterator<T> | AsyncIterator<T>;

export function checkIterable<T>(where: string, source: unknown): () => AnyIterator<T> {
  if (source !== null && (typeof source === 'object' || typeof source === 'function')) {
    const asyncIt = (source as AsyncIterable<T>)[Symbol.asyncIterator];
    if (typeof asyncIt === 'function') return () => asyncIt.call(source);
    const syncIt = (source as Iterable<T>)[Symbol.iterator];
    if (typeof syncIt === 'function') return () => syncIt.call(source);
  }
  throw new TypeError(`${where}: source must be an iterable or async iterable, got ${typeName(source)}`);
}

type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

function backoffDelay(backoff: Backoff, attempt: number, error: unknown): number {
  if (typeof backoff === 'number') return backoff * 2 ** (attempt - 1);
  const ms = backoff(attempt, error);
  return checkNonNegative('mapAsync', 'backoff()', ms);
}

async function callWithRetries<T, R>(
  fn: MapFunction<T, R>,
  item: T,
  index: number,
  s: MapSettings,
  stop: AbortSignal,
): Promise<R> {
  for (let attempt = 0; ; attempt++) {
    const { controller, unlink } = linkedController(stop);
    try {
      const call = new Promise<R>((resolve) => resolve(fn(item, { index, attempt, signal: controller.signal })));
      return await raceTimeout(call, s.timeout, `mapAsync: item ${index} timed out after ${s.timeout} ms`, controller);
    } catch (error) {
      if (stop.aborted || attempt >= s.retries) throw error;
      await sleep(backoffDelay(s.backoff, attempt + 1, error), stop);
    } finally {
      unlink();
    }
  }
}

/** The engine behind mapAsync and Pool.map: bounded, ordered or not, stopping cleanly on error, abort or break. */
export function boundedMap<T, R>(
  where: string,
  source: unknown,
  fn: MapFunction<T, R>,
  s: MapSettings,
): ResultStream<R> {
  const openSource = checkIterable<T>(where, source);
  return new ResultStream(async function* run() {
    const { controller: stopper, unlink } = linkedController(s.signal);
    const stop = stopper.signal;
    const iterator = openSource();
    const ready = new Map<number, R>();
    let running = 0;
    let nextIndex = 0;
    let nextToYield = 0;
    let exhausted = false;
    /** The failure with the lowest index so far: ordered mode still yields every result before it. */
    let failure = null as { error: unknown; index: number } | null;
    let wake: (() => void) | null = null;
    const onStop = () => wake?.();
    stop.addEventListener('abort', onStop);
    try {
      while (true) {
        // Pull while fewer than `concurrency` run and fewer than `concurrency` results wait.
        while (!exhausted && !failure && running < s.concurrency && ready.size < s.concurrency && !stop.aborted) {
          const step = await iterator.next();
          if (step.done) {
            exhausted = true;
            break;
          }
          const index = nextIndex++;
          running++;
          callWithRetries(fn, step.value, index, s, stop).then(
            (value) => settle(index, { ok: true, value }),
            (error: unknown) => settle(index, { ok: false, error }),
          );
        }
        if (stop.aborted) throw abortErrorFrom(stop, `${where}: aborted`);
        // After a failure: in order, the results before its index first (waiting for those still
        // running); as completed, the results already in. Then the error.
        if (failure && (s.ordered ? nextToYield === failure.index : ready.size === 0)) throw failure.error;
        const key = s.ordered ? nextToYield : ready.keys().next().value;
        if (key !== undefined && ready.has(key)) {
          const value = ready.get(key) as R;
          ready.delete(key);
          nextToYield++;
          yield value;
          continue;
        }
        if (exhausted && running === 0) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    } finally {
      stop.removeEventListener('abort', onStop);
      // Early exit (error, break, abort): stop running calls and close the source.
      if (!stop.aborted) stopper.abort(new AbortError(`${where}: iteration stopped`));
      unlink();
      await iterator.return?.();
    }

    function settle(index: number, outcome: Outcome<R>) {
      running--;
      if (outcome.ok) ready.set(index, outcome.value);
      else if (!failure || index < failure.index) failure = { error: outcome.error, index };
      wake?.();
    }
  });
}

/**
 * Maps `fn` over a sync or async iterable with at most `concurrency` calls in flight; results come
 * out as an async iterable (source order by default). Each call gets `{ index, attempt, signal }`.
 * A failure (after `retries`) stops the iteration with that error; so does the caller's `signal`.
 */
export function mapAsync<T, R>(
  source: Iterable<T> | AsyncIterable<T>,
  fn: MapFunction<T, R>,
  options?: MapAsyncOptions,
): ResultStream<R> {
  if (typeof fn !== 'function') throw new TypeError(`mapAsync: fn must be a function, got ${typeName(fn)}`);
  const settings = checkMapOptions('mapAsync', options, 8);
  return boundedMap('mapAsync', source, fn, settings);
}
