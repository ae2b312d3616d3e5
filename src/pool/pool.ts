// Pool: concurrent.futures' Executor over piscina worker threads. Tasks are named exports of a
// compiled task module; each submit() returns a Future. Every task settles exactly once: with its
// value, the worker's error (same name, message, stack), an AbortError (cancel, signal, timeout,
// close), or, when its worker died under it, a BrokenPoolError or the error that ended the worker
// (out of memory); the pool starts a replacement and goes on.
import { EventEmitter } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import type { MessagePort, ResourceLimits } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { checkBoolean, checkInteger, checkOneOf, typeName } from '../core/validate.js';
import { checkKnownOptions } from '../core/options.js';
import { boundedMap, checkIterable, checkMapOptions, ResultStream } from '../async/map.js';
import { checkSignal, linkedController } from '../async/signals.js';
import {
  type ProfileMemoryOptions,
  profileSettings,
  type ProfileSettings,
  type TaskMemory,
} from '../memprof/profile.js';
import { AbortError, BrokenPoolError, TimeoutError, abortErrorFrom } from '../core/errors.js';
import type { Future } from '../core/future.js';
import { PoolFuture } from './pool-future.js';
import { knownLength, type MapProgress } from '../core/map-progress.js';
import { resolveTaskModule } from '../core/module-path.js';
import { reportError } from '../core/report.js';
import { checkTimeout, setDeadline } from '../core/timeout.js';
import type { ChunkResults, PoolWorkerData, TaskMessage, TaskReply } from './protocol.js';
import { fromWireError } from '../core/wire-error.js';

// Node 20.0-20.3 lack the symbol; `await using` looks it up by this registered name.
(Symbol as { asyncDispose?: symbol }).asyncDispose ??= Symbol.for('nodejs.asyncDispose');

export type AtomicsMode = 'async' | 'sync' | 'disabled';
const atomicsModes: readonly AtomicsMode[] = ['async', 'sync', 'disabled'];

export interface PoolOptions {
  /**
   * The compiled task module: a path or file: URL (.js/.mjs/.cjs, or a .ts mapped through tsconfig to
   * its build output).
   */
  filename?: string | URL;
  /** Or a package specifier resolved from the current directory, e.g. 'my-pkg/tasks'. */
  module?: string;
  /** Most worker threads. Default: os.availableParallelism(). */
  maxThreads?: number;
  /** Threads kept alive when idle. Default: min(1, maxThreads). */
  minThreads?: number;
  /** Milliseconds an idle thread above minThreads lives. Default 1000. */
  idleTimeout?: number;
  /** Most queued tasks ('auto': maxThreads squared); submit rejects beyond it. Default: unbounded. */
  maxQueue?: number | 'auto';
  /** V8 heap limits per worker; a task exceeding them rejects and its worker is replaced. */
  resourceLimits?: ResourceLimits;
  /**
   * How an idle worker waits for the next task. 'async' (default) waits with Atomics.waitAsync, so a
   * task's leftover timers and promises still run between tasks; 'sync' blocks the worker's event
   * loop (piscina's default, see piscina#346); 'disabled' uses plain messages.
   */
  atomics?: AtomicsMode;
  /** Default per-task timeout in ms (an AbortError when it passes). Default: none (Infinity). */
  timeout?: number;
  /**
   * Profile each submit()/submitWith() task's memory in its worker (profileMemory options, or true for
   * the defaults): the figures come back as `future.memory`. Default false. Not applied to map().
   */
  memory?: boolean | ProfileMemoryOptions;
  /**
   * Name of an export of the task module each worker calls once, with `initargs`, before its first
   * task (concurrent.futures' initializer). If it throws, the pool is broken: every pending task
   * rejects with a BrokenPoolError and so does every later submit.
   */
  initializer?: string;
  /** Arguments for `initializer` (structured-cloned to each worker). Default []. */
  initargs?: unknown[];
  /** Tasks one worker runs before it is replaced by a fresh one (max_tasks_per_child). Default: no limit. */
  maxTasksPerChild?: number;
}

const poolOptionNames: readonly (keyof PoolOptions)[] = [
  'filename',
  'module',
  'maxThreads',
  'minThreads',
  'idleTimeout',
  'maxQueue',
  'resourceLimits',
  'atomics',
  'timeout',
  'memory',
  'initializer',
  'initargs',
  'maxTasksPerChild',
];

export interface SubmitOptions {
  /** ArrayBuffers (or MessagePorts) among the arguments to move to the worker instead of copying. */
  transfer?: readonly (ArrayBufferLike | MessagePort)[];
  /** Aborting it cancels the task, queued or running, with an AbortError. */
  signal?: AbortSignal;
  /** Milliseconds until the task is cancelled with an AbortError. Default: the pool's `timeout`. */
  timeout?: number;
  /** Profile this task's memory (see PoolOptions.memory). Default: the pool's `memory`. */
  memory?: boolean | ProfileMemoryOptions;
}

export type { MapProgress } from '../core/map-progress.js';

export interface PoolMapOptions {
  /** Items sent to a worker per task (fewer messages for tiny items). Default 1. */
  chunksize?: number;
  /** Yield results in input order (default) or as chunks finish. */
  ordered?: boolean;
  /** Chunks in flight. Default: 2 * maxThreads (keeps workers busy, memory bounded). */
  concurrency?: number;
  /** Cancels queued and running chunks; the iteration throws an AbortError. */
  signal?: AbortSignal;
  /** Per-chunk timeout in ms. Default: the pool's `timeout`. */
  timeout?: number;
  /** Called as each chunk's results arrive. */
  onProgress?: (progress: MapProgress) => void;
}

/** What pool.on('progress') receives after each task settles. */
export interface PoolProgress {
  /** Tasks submitted so far. */
  total: number;
  /** Tasks settled (fulfilled, failed or cancelled). */
  completed: number;
  failed: number;
  cancelled: number;
}

export interface LatencySummary {
  mean: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p99: number;
}

export interface PoolStats {
  threads: number;
  queueSize: number;
  /** Fraction of the pool's thread time spent running tasks, 0..1 (piscina's utilization). */
  utilization: number;
  completed: number;
  /** Milliseconds a task ran in its worker. */
  runTime: LatencySummary;
  /** Milliseconds a task waited in the queue. */
  waitTime: LatencySummary;
}

export interface CloseOptions {
  /** true (default): run queued and running tasks to completion first. false: reject them with an AbortError now. */
  wait?: boolean;
  /** Cancel the tasks still queued (running ones finish), as shutdown(cancel_futures=True). Default false. */
  cancelFutures?: boolean;
}

const dispatcher = path.join(__dirname, 'worker.js');

/**
 * piscina's error for a worker that ended while it ran a task (process.exit in the task). Only that
 * task was on the worker, so only it fails, with a BrokenPoolError; the pool goes on (docs/api.md).
 */
const workerExit = /^worker exited with code: (-?\d+)$/;

/**
 * What a worker's 'error' event carries for an uncaught error Node cannot serialize (a DOMException,
 * e.g. piscina's DataCloneError when it posts a result that cannot be cloned): an empty plain object.
 */
function isLostWorkerError(error: unknown): boolean {
  return (
    error !== null &&
    typeof error === 'object' &&
    Object.getPrototypeOf(error) === Object.prototype &&
    Reflect.ownKeys(error).length === 0
  );
}

/** A profiled task's error carries its profile as `error.profile`, as profileMemory's do. */
function withProfile(error: Error, memory: TaskMemory | undefined): Error {
  if (memory)
    Object.defineProperty(error, 'profile', {
      value: { result: undefined, ...memory },
      configurable: true,
      writable: true,
    });
  return error;
}

function checkName(where: string, name: unknown, label = 'name'): string {
  if (typeof name !== 'string' || name === '')
    throw new TypeError(
      `${where}: ${label} must be the non-empty name of an exported task function, got ${typeName(name)}`,
    );
  return name;
}

function isIterable(value: unknown): boolean {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  return Symbol.iterator in value || Symbol.asyncIterator in value;
}

/** The items of several (async) iterables side by side as argument lists, up to the shortest (Python's zip). */
async function* zipShortest(sources: (Iterable<unknown> | AsyncIterable<unknown>)[]): AsyncGenerator<unknown[]> {
  const iterators = sources.map((source) =>
    Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : (source as Iterable<unknown>)[Symbol.iterator](),
  );
  try {
    for (;;) {
      const steps = await Promise.all(iterators.map((it) => it.next()));
      if (steps.some((step) => step.done)) return;
      yield steps.map((step) => step.value);
    }
  } finally {
    await Promise.all(iterators.map((it) => it.return?.()));
  }
}

function checkTransfer(where: string, transfer: unknown): (ArrayBufferLike | MessagePort)[] | undefined {
  if (transfer === undefined) return undefined;
  if (!Array.isArray(transfer))
    throw new TypeError(
      `${where}: transfer must be an array of ArrayBuffers or MessagePorts, got ${typeName(transfer)}`,
    );
  return transfer;
}

/** null: no profiling; else the checked settings the worker runs profileMemory with. */
function memorySettings(where: string, memory: unknown): ProfileSettings | null {
  if (memory === false) return null;
  if (memory === true) return profileSettings(where, {}, 'memory.');
  if (memory === null || typeof memory !== 'object') {
    throw new TypeError(`${where}: memory must be a boolean or profileMemory options, got ${typeName(memory)}`);
  }
  return profileSettings(where, memory, 'memory.');
}

/** The signal a task runs under: its Future's own, linked to the caller's signal and a timeout when given. */
function taskAbortSignal(
  where: string,
  name: string,
  own: AbortSignal,
  caller: AbortSignal | undefined,
  timeout: number | undefined,
) {
  // The common case needs no extra controller, listener or timer per task.
  if (caller === undefined && timeout === undefined) return { signal: own, dispose: () => {} };
  const { controller, unlink } = linkedController(own, caller);
  const deadline = setDeadline(() => {
    const cause = new TimeoutError(`task '${name}' exceeded ${timeout} ms`);
    controller.abort(new AbortError(`${where}: task '${name}' timed out after ${timeout} ms`, { cause }));
  }, timeout);
  return {
    signal: controller.signal,
    dispose: () => {
      deadline.clear();
      unlink();
    },
  };
}

/** items[i], cleared in the array. */
function takeAt(items: unknown[], i: number): unknown {
  const item = items[i];
  items[i] = undefined;
  return item;
}

async function* chunksOf<T>(items: Iterable<T> | AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let chunk: T[] = [];
  for await (const item of items) {
    chunk.push(item);
    if (chunk.length === size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

export class Pool extends EventEmitter {
  /** Absolute path of the compiled task module the workers load. */
  readonly taskModule: string;
  readonly maxThreads: number;
  readonly #piscina: Piscina;
  readonly #timeout: number | undefined;
  readonly #maxQueue: number;
  readonly #memory: ProfileSettings | null;
  readonly #outstanding = new Set<Future<unknown>>();
  readonly #spareFlags: Int32Array[] = [];
  /** How to reject each outstanding task's Future, for a pool that turns broken. */
  readonly #rejecters = new Map<Future<unknown>, (reason: unknown) => void>();
  readonly #maxTasksPerChild: number | undefined;
  #closing: Promise<void> | null = null;
  #terminating = false;
  /** The initializer's error once one failed: the pool is broken. */
  #brokenBy: Error | null = null;
  #progress: PoolProgress = { total: 0, completed: 0, failed: 0, cancelled: 0 };

  constructor(options: PoolOptions) {
    super();
    // A missing options object is reported as the missing filename/module, below.
    const opts = checkKnownOptions('Pool', options, poolOptionNames);
    this.taskModule = resolveTaskModule('Pool', opts.filename, opts.module);
    this.maxThreads =
      opts.maxThreads === undefined
        ? os.availableParallelism()
        : checkInteger('Pool', 'maxThreads', opts.maxThreads, 1, 1024);
    const minThreads =
      opts.minThreads === undefined
        ? Math.min(1, this.maxThreads)
        : checkInteger('Pool', 'minThreads', opts.minThreads, 0, this.maxThreads);
    const idleTimeout =
      opts.idleTimeout === undefined ? 1000 : checkInteger('Pool', 'idleTimeout', opts.idleTimeout, 0);
    // Enforced here, not by piscina: piscina only bounds tasks without an AbortSignal, and every Pool task has one.
    if (opts.maxQueue === undefined) this.#maxQueue = Infinity;
    else if (opts.maxQueue === 'auto') this.#maxQueue = this.maxThreads ** 2;
    else this.#maxQueue = checkInteger('Pool', 'maxQueue', opts.maxQueue, 0);
    if (
      opts.resourceLimits !== undefined &&
      (opts.resourceLimits === null || typeof opts.resourceLimits !== 'object')
    ) {
      throw new TypeError(`Pool: resourceLimits must be an object, got ${typeName(opts.resourceLimits)}`);
    }
    const atomics = opts.atomics === undefined ? 'async' : checkOneOf('Pool', 'atomics', opts.atomics, atomicsModes);
    this.#timeout = checkTimeout('Pool', 'timeout', opts.timeout);
    this.#memory = opts.memory === undefined ? null : memorySettings('Pool', opts.memory);
    if (opts.initializer !== undefined) checkName('Pool', opts.initializer, 'initializer');
    if (opts.initargs !== undefined && !Array.isArray(opts.initargs))
      throw new TypeError(`Pool: initargs must be an array, got ${typeName(opts.initargs)}`);
    if (opts.initargs !== undefined && opts.initializer === undefined)
      throw new TypeError('Pool: initargs needs an initializer');
    this.#maxTasksPerChild =
      opts.maxTasksPerChild === undefined
        ? undefined
        : checkInteger('Pool', 'maxTasksPerChild', opts.maxTasksPerChild, 1);
    const workerData: PoolWorkerData = {
      taskModule: this.taskModule,
      ...(opts.initializer === undefined
        ? {}
        : { initializer: opts.initializer as string, initargs: (opts.initargs as unknown[] | undefined) ?? [] }),
      ...(this.#maxTasksPerChild === undefined ? {} : { maxTasksPerChild: this.#maxTasksPerChild }),
    };
    this.#piscina = new Piscina({
      filename: dispatcher,
      workerData,
      maxThreads: this.maxThreads,
      minThreads,
      idleTimeout,
      ...(opts.resourceLimits === undefined ? {} : { resourceLimits: opts.resourceLimits as ResourceLimits }),
      atomics,
    });
    this.#piscina.on('error', (error: unknown) => this.#onPiscinaError(error));
  }

  /** Runs `name(...args)` in a worker. */
  submit<R = unknown>(name: string, ...args: unknown[]): PoolFuture<R> {
    return this.#submit<R>('Pool.submit', checkName('Pool.submit', name), args, undefined, {});
  }

  /** submit() with per-task options: transfer list, AbortSignal, timeout. */
  submitWith<R = unknown>(name: string, args: readonly unknown[], options?: SubmitOptions): PoolFuture<R> {
    const where = 'Pool.submitWith';
    checkName(where, name);
    if (!Array.isArray(args)) throw new TypeError(`${where}: args must be an array, got ${typeName(args)}`);
    return this.#submit<R>(
      where,
      name,
      args,
      undefined,
      checkKnownOptions(where, options, ['transfer', 'signal', 'timeout', 'memory']),
    );
  }

  /**
   * Applies `name` to every item (sync or async iterable, read lazily), `chunksize` items per task.
   * Results come back as an async iterable, in input order unless `ordered: false`. With several
   * iterables, `name(a, b, ...)` runs on their items side by side, stopping at the shortest (as
   * Python's map); options, if any, come last.
   */
  map<T, R = unknown>(name: string, items: Iterable<T> | AsyncIterable<T>, options?: PoolMapOptions): ResultStream<R>;
  map<R = unknown>(name: string, ...iterablesThenOptions: unknown[]): ResultStream<R>;
  map<T, R = unknown>(name: string, ...rest: unknown[]): ResultStream<R> {
    const where = 'Pool.map';
    checkName(where, name);
    const last = rest.at(-1);
    const hasOptions = rest.length > 1 && (last === undefined || !isIterable(last));
    const sources = hasOptions ? rest.slice(0, -1) : rest;
    if (sources.length === 0) throw new TypeError(`${where}: give at least one iterable of items`);
    sources.forEach((source) => checkIterable(where, source));
    const spread = sources.length > 1;
    const items = (spread ? zipShortest(sources as (Iterable<unknown> | AsyncIterable<unknown>)[]) : sources[0]) as
      Iterable<T> | AsyncIterable<T>;
    const opts = checkKnownOptions(where, hasOptions ? last : undefined, [
      'chunksize',
      'ordered',
      'concurrency',
      'signal',
      'timeout',
      'onProgress',
    ]);
    const chunksize = opts.chunksize === undefined ? 1 : checkInteger(where, 'chunksize', opts.chunksize, 1);
    const onProgress = opts.onProgress;
    if (onProgress !== undefined && typeof onProgress !== 'function')
      throw new TypeError(`${where}: onProgress must be a function, got ${typeName(onProgress)}`);
    // Checked here, applied per chunk by #submit: undefined takes the pool's timeout, Infinity none.
    const timeout = opts.timeout;
    checkTimeout(where, 'timeout', timeout);
    const { concurrency, ordered, signal } = checkMapOptions(
      where,
      { concurrency: opts.concurrency, ordered: opts.ordered, signal: opts.signal },
      2 * this.maxThreads,
    );
    const lengths = sources.map(knownLength);
    const total = lengths.includes(undefined) ? undefined : Math.min(...(lengths as number[]));
    let completed = 0;
    const chunkResults = boundedMap<T[], ChunkResults>(
      where,
      chunksOf(items, chunksize),
      async (chunk, context) => {
        const outcome = await this.#submit<ChunkResults>(
          where,
          name,
          [],
          chunk,
          { signal: context.signal, timeout },
          spread,
        );
        completed += outcome.results.length;
        onProgress?.({ completed, total });
        return outcome;
      },
      { concurrency, ordered, signal, timeout: undefined, retries: 0, backoff: 0 },
    );
    return new ResultStream(async function* flatten() {
      // A chunk that failed part way still yields the results before its failing item.
      for await (const { results, error } of chunkResults) {
        // Dropped as handed over: only the consumer decides how long a result lives (CPython #14406).
        // No local holds the value across the yield: V8 would keep it until the next pull.
        for (let i = 0; i < results.length; i++) yield takeAt(results, i) as R;
        if (error) throw fromWireError(error);
      }
    });
  }

  /** No new tasks; by default waits for queued and running ones, then stops the workers. Idempotent. */
  close(options?: CloseOptions): Promise<void> {
    const opts = checkKnownOptions('Pool.close', options, ['wait', 'cancelFutures']);
    const wait = opts.wait === undefined ? true : checkBoolean('Pool.close', 'wait', opts.wait);
    const cancelFutures =
      opts.cancelFutures === undefined ? false : checkBoolean('Pool.close', 'cancelFutures', opts.cancelFutures);
    if (cancelFutures) {
      const reason = new AbortError('Pool.close: cancelled with cancelFutures before it started');
      for (const future of [...this.#outstanding]) if (future.state === 'pending') future.cancel(reason);
    }
    if (!wait && !this.#terminating) {
      this.#terminating = true;
      this.#closing = this.#piscina.destroy();
    }
    this.#closing ??= Promise.allSettled([...this.#outstanding]).then(() => this.#piscina.close());
    return this.#closing;
  }

  /** `await using pool = new Pool(...)`: close({ wait: true }) at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  get closed(): boolean {
    return this.#closing !== null;
  }

  /** Threads, queue length, utilization and run/wait time percentiles (ms) from piscina's histograms. */
  stats(): PoolStats {
    const summary = (h: Piscina['histogram']['runTime']): LatencySummary => ({
      mean: h.mean,
      min: h.min,
      max: h.max,
      p50: h.p50,
      p90: h.p90,
      p99: h.p99,
    });
    const { histogram } = this.#piscina;
    return {
      threads: this.#piscina.threads.length,
      queueSize: this.#piscina.queueSize,
      utilization: this.#piscina.utilization,
      completed: this.#piscina.completed,
      runTime: summary(histogram.runTime),
      waitTime: summary(histogram.waitTime),
    };
  }

  /** True once an initializer failed: the pool runs nothing more (BrokenProcessPool). */
  get broken(): boolean {
    return this.#brokenBy !== null;
  }

  #submit<R>(
    where: string,
    name: string,
    args: readonly unknown[],
    chunk: unknown[] | undefined,
    opts: Record<string, unknown>,
    spread = false,
  ): PoolFuture<R> {
    if (this.#brokenBy) throw this.#brokenError(this.#brokenBy);
    if (this.#closing) throw new Error(`${where}: the pool is closed`);
    const transferList = checkTransfer(where, opts.transfer);
    const signal = checkSignal(where, opts.signal);
    const timeout = opts.timeout === undefined ? this.#timeout : checkTimeout(where, 'timeout', opts.timeout);
    const memory =
      chunk !== undefined ? null : opts.memory === undefined ? this.#memory : memorySettings(where, opts.memory);
    const started = this.#spareFlags.pop() ?? new Int32Array(new SharedArrayBuffer(4));
    const message: TaskMessage = {
      name,
      args: [...args],
      chunk,
      started,
      ...(spread ? { spread } : {}),
      ...(memory ? { memory } : {}),
    };
    let rejectTask: ((reason: unknown) => void) | undefined;
    const future = new PoolFuture<R>((resolve, reject, control) => {
      control.runningWhen(() => Atomics.load(started, 0) === 1);
      if (this.#piscina.queueSize >= this.#maxQueue) {
        reject(
          new Error(`${where}: the task queue is full (maxQueue ${this.#maxQueue}): task '${name}' was not queued`),
        );
        return;
      }
      rejectTask = reject;
      const { signal: taskSignal, dispose } = taskAbortSignal(where, name, control.signal, signal, timeout);
      const dispatch = (): Promise<void> =>
        this.#piscina.run(message, { signal: taskSignal, transferList: transferList as never }).then(
          (reply: TaskReply) => {
            if ('retired' in reply) return dispatch(); // its worker reached maxTasksPerChild first
            if (reply.retire !== undefined) this.#retireWorker(reply.retire);
            // Only a flag whose task finished normally is reused: an aborted task's worker may be gone mid-write.
            Atomics.store(started, 0, 0);
            this.#spareFlags.push(started);
            if (reply.memory) future.memory = reply.memory;
            if (reply.ok) resolve(reply.value as R);
            else if (reply.broken) this.#breakPool(fromWireError(reply.error));
            else reject(withProfile(fromWireError(reply.error), reply.memory));
          },
          (error: unknown) => {
            const began = Atomics.load(started, 0) === 1;
            // A worker retired after maxTasksPerChild was terminated before it began this task: run it on another.
            if (
              !began &&
              this.#maxTasksPerChild !== undefined &&
              !taskSignal.aborted &&
              !this.#terminating &&
              !this.#brokenBy
            )
              return dispatch();
            // Arguments that cannot be cloned: the task could never run, whatever stopped it meanwhile.
            if (error instanceof Error && error.name === 'DataCloneError') return reject(error);
            const explained = this.#explain(where, name, error, taskSignal, began);
            // Stopped by the caller's signal, a timeout or close({ wait: false }): the future reads as
            // cancelled, as after cancel().
            if (taskSignal.aborted || this.#terminating) future.cancel(explained);
            else reject(explained);
          },
        );
      dispatch().finally(dispose);
    });
    if (rejectTask) this.#rejecters.set(future as Future<unknown>, rejectTask);
    this.#track(future as Future<unknown>);
    return future;
  }

  /** Terminates the worker that ran its maxTasksPerChild tasks; piscina replaces it. */
  #retireWorker(threadId: number): void {
    const worker = this.#piscina.threads.find((thread) => thread.threadId === threadId);
    void worker?.terminate();
  }

  /** The initializer failed in a worker: every pending task and every later submit fails with a BrokenPoolError. */
  #breakPool(cause: Error): void {
    this.#brokenBy ??= cause;
    for (const reject of this.#rejecters.values()) reject(this.#brokenError(this.#brokenBy));
    this.#rejecters.clear();
    this.#terminating = true;
    this.#closing ??= this.#piscina.destroy();
  }

  /** A fresh error each time (as Python's BrokenProcessPool per future), so its stack is the caller's. */
  #brokenError(cause: Error): BrokenPoolError {
    return new BrokenPoolError(`Pool: a worker's initializer failed, the pool can run nothing: ${cause.message}`, {
      cause,
    });
  }

  /**
   * Piscina emits 'error' for events no task owns; unheard, that would end the process. A worker's
   * reply to a task that was cancelled meanwhile (its worker finished as the abort came) is expected
   * and dropped. Anything else goes to the Pool's own 'error' listeners, or becomes a warning.
   */
  #onPiscinaError(error: unknown): void {
    if (error instanceof Error && error.message.startsWith('Unexpected message from Worker')) return;
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else reportError('Pool worker', error);
  }

  #explain(where: string, name: string, error: unknown, signal: AbortSignal, started: boolean): Error {
    if (signal.aborted) return abortErrorFrom(signal, `${where}: task '${name}' was cancelled`);
    if (this.#terminating) {
      const when = started ? `while task '${name}' ran` : `before task '${name}' started`;
      return new AbortError(`${where}: pool closed with { wait: false } ${when}`, { cause: error });
    }
    const exit = error instanceof Error ? workerExit.exec(error.message) : null;
    if (exit) {
      return new BrokenPoolError(
        `${where}: the worker running task '${name}' terminated abruptly with exit code ${exit[1]}` +
          '; the pool replaced it',
        { cause: error },
      );
    }
    if (isLostWorkerError(error)) {
      return new BrokenPoolError(
        `${where}: the worker running task '${name}' died of an error Node could not pass on, such as the ` +
          `DataCloneError of a result that cannot be structured-cloned; the pool replaced it`,
      );
    }
    if (error instanceof Error) return error;
    return new Error(`${where}: task '${name}' failed: ${String(error)}`);
  }

  #track(future: Future<unknown>): void {
    this.#outstanding.add(future);
    this.#progress.total++;
    future.addDoneCallback((f) => {
      this.#outstanding.delete(f);
      this.#rejecters.delete(f);
      const p = this.#progress;
      p.completed++;
      if (f.cancelled) p.cancelled++;
      else if (f.state === 'rejected') p.failed++;
      if (this.listenerCount('progress') > 0) this.emit('progress', { ...p } satisfies PoolProgress);
    });
  }
}
