// Pool: concurrent.futures' Executor over piscina worker threads. Tasks are named exports of a
// compiled task module; each submit() returns a Future. Every task settles exactly once: with its
// value, the worker's error (same name, message, stack), an AbortError (cancel, signal, timeout,
// close), or the error that killed its worker (the pool starts a replacement).
import { EventEmitter } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import type { MessagePort, ResourceLimits } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { checkInteger, checkOneOf, checkOptions, typeName } from '../core/validate.js';
import { boundedMap, checkIterable, checkMapOptions, checkNonNegative, ResultStream } from '../async/map.js';
import { checkSignal, linkedController } from '../async/signals.js';
import { type ProfileMemoryOptions, profileSettings, type ProfileSettings, type TaskMemory } from '../memprof/profile.js';
import { AbortError, TimeoutError, abortErrorFrom } from '../core/errors.js';
import type { Future } from '../core/future.js';
import { PoolFuture } from './pool-future.js';
import { knownLength, type MapProgress } from '../core/map-progress.js';
import { resolveTaskModule } from '../core/module-path.js';
import type { TaskMessage, TaskReply } from './protocol.js';
import { fromWireError } from '../core/wire-error.js';

// Node 20.0-20.3 lack the symbol; `await using` looks it up by this registered name.
(Symbol as { asyncDispose?: symbol }).asyncDispose ??= Symbol.for('nodejs.asyncDispose');

export type AtomicsMode = 'async' | 'sync' | 'disabled';
const atomicsModes: readonly AtomicsMode[] = ['async', 'sync', 'disabled'];

export interface PoolOptions {
  /** The compiled task module: a path or file: URL (.js/.mjs/.cjs, or a .ts mapped through tsconfig to its build output). */
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
  /** Default per-task timeout in ms (an AbortError when it passes). Default: none. */
  timeout?: number;
  /**
   * Profile each submit()/submitWith() task's memory in its worker (profileMemory options, or true for
   * the defaults): the figures come back as `future.memory`. Default false. Not applied to map().
   */
  memory?: boolean | ProfileMemoryOptions;
}

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
}

const dispatcher = path.join(__dirname, 'worker.js');

/** A profiled task's error carries its profile as `error.profile`, as profileMemory's do. */
function withProfile(error: Error, memory: TaskMemory | undefined): Error {
  if (memory) Object.defineProperty(error, 'profile', { value: { result: undefined, ...memory }, configurable: true, writable: true });
  return error;
}

function checkName(where: string, name: unknown): string {
  if (typeof name !== 'string' || name === '') throw new TypeError(`${where}: name must be the non-empty name of an exported task function, got ${typeName(name)}`);
  return name;
}

function checkTransfer(where: string, transfer: unknown): (ArrayBufferLike | MessagePort)[] | undefined {
  if (transfer === undefined) return undefined;
  if (!Array.isArray(transfer)) throw new TypeError(`${where}: transfer must be an array of ArrayBuffers or MessagePorts, got ${typeName(transfer)}`);
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
function taskAbortSignal(where: string, name: string, own: AbortSignal, caller: AbortSignal | undefined, timeout: number | undefined) {
  // The common case needs no extra controller, listener or timer per task.
  if (caller === undefined && timeout === undefined) return { signal: own, dispose: () => {} };
  const { controller, unlink } = linkedController(own, caller);
  const timer = timeout === undefined ? undefined : setTimeout(() => {
    const cause = new TimeoutError(`task '${name}' exceeded ${timeout} ms`);
    controller.abort(new AbortError(`${where}: task '${name}' timed out after ${timeout} ms`, { cause }));
  }, timeout);
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      unlink();
    },
  };
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
  #closing: Promise<void> | null = null;
  #terminating = false;
  #progress: PoolProgress = { total: 0, completed: 0, failed: 0, cancelled: 0 };

  constructor(options: PoolOptions) {
    super();
    const opts = checkOptions('Pool', options);
    this.taskModule = resolveTaskModule('Pool', opts.filename, opts.module);
    this.maxThreads = opts.maxThreads === undefined ? os.availableParallelism() : checkInteger('Pool', 'maxThreads', opts.maxThreads, 1, 1024);
    const minThreads = opts.minThreads === undefined ? Math.min(1, this.maxThreads) : checkInteger('Pool', 'minThreads', opts.minThreads, 0, this.maxThreads);
    const idleTimeout = opts.idleTimeout === undefined ? 1000 : checkInteger('Pool', 'idleTimeout', opts.idleTimeout, 0);
    // Enforced here, not by piscina: piscina only bounds tasks without an AbortSignal, and every Pool task has one.
    if (opts.maxQueue === undefined) this.#maxQueue = Infinity;
    else if (opts.maxQueue === 'auto') this.#maxQueue = this.maxThreads ** 2;
    else this.#maxQueue = checkInteger('Pool', 'maxQueue', opts.maxQueue, 0);
    if (opts.resourceLimits !== undefined && (opts.resourceLimits === null || typeof opts.resourceLimits !== 'object')) {
      throw new TypeError(`Pool: resourceLimits must be an object, got ${typeName(opts.resourceLimits)}`);
    }
    const atomics = opts.atomics === undefined ? 'async' : checkOneOf('Pool', 'atomics', opts.atomics, atomicsModes);
    this.#timeout = opts.timeout === undefined ? undefined : checkNonNegative('Pool', 'timeout', opts.timeout);
    this.#memory = opts.memory === undefined ? null : memorySettings('Pool', opts.memory);
    this.#piscina = new Piscina({
      filename: dispatcher,
      workerData: { taskModule: this.taskModule },
      maxThreads: this.maxThreads,
      minThreads,
      idleTimeout,
      ...(opts.resourceLimits === undefined ? {} : { resourceLimits: opts.resourceLimits as ResourceLimits }),
      atomics,
    });
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
    return this.#submit<R>(where, name, args, undefined, checkOptions(where, options));
  }

  /**
   * Applies `name` to every item (sync or async iterable, read lazily), `chunksize` items per task.
   * Results come back as an async iterable, in input order unless `ordered: false`.
   */
  map<T, R = unknown>(name: string, items: Iterable<T> | AsyncIterable<T>, options?: PoolMapOptions): ResultStream<R> {
    const where = 'Pool.map';
    checkName(where, name);
    checkIterable(where, items);
    const opts = checkOptions(where, options);
    const chunksize = opts.chunksize === undefined ? 1 : checkInteger(where, 'chunksize', opts.chunksize, 1);
    const onProgress = opts.onProgress;
    if (onProgress !== undefined && typeof onProgress !== 'function') throw new TypeError(`${where}: onProgress must be a function, got ${typeName(onProgress)}`);
    const timeout = opts.timeout === undefined ? undefined : checkNonNegative(where, 'timeout', opts.timeout);
    const { concurrency, ordered, signal } = checkMapOptions(where, { concurrency: opts.concurrency, ordered: opts.ordered, signal: opts.signal }, 2 * this.maxThreads);
    const total = knownLength(items);
    let completed = 0;
    const chunkResults = boundedMap<T[], R[]>(
      where,
      chunksOf(items, chunksize),
      async (chunk, context) => {
        const results = await this.#submit<R[]>(where, name, [], chunk, { signal: context.signal, timeout });
        completed += chunk.length;
        onProgress?.({ completed, total });
        return results;
      },
      { concurrency, ordered, signal, timeout: undefined, retries: 0, backoff: 0 },
    );
    return new ResultStream(async function* flatten() {
      for await (const results of chunkResults) yield* results;
    });
  }

  /** No new tasks; by default waits for queued and running ones, then stops the workers. Idempotent. */
  close(options?: CloseOptions): Promise<void> {
    const opts = checkOptions('Pool.close', options);
    const wait = opts.wait === undefined ? true : opts.wait;
    if (typeof wait !== 'boolean') throw new TypeError(`Pool.close: wait must be a boolean, got ${typeName(wait)}`);
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
    const summary = (h: Piscina['histogram']['runTime']): LatencySummary => ({ mean: h.mean, min: h.min, max: h.max, p50: h.p50, p90: h.p90, p99: h.p99 });
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

  #submit<R>(where: string, name: string, args: readonly unknown[], chunk: unknown[] | undefined, opts: Record<string, unknown>): PoolFuture<R> {
    if (this.#closing) throw new Error(`${where}: the pool is closed`);
    const transferList = checkTransfer(where, opts.transfer);
    const signal = checkSignal(where, opts.signal);
    const timeout = opts.timeout === undefined ? this.#timeout : checkNonNegative(where, 'timeout', opts.timeout);
    const memory = chunk !== undefined ? null : opts.memory === undefined ? this.#memory : memorySettings(where, opts.memory);
    const started = this.#spareFlags.pop() ?? new Int32Array(new SharedArrayBuffer(4));
    const message: TaskMessage = { name, args: [...args], chunk, started, ...(memory ? { memory } : {}) };
    const future = new PoolFuture<R>((resolve, reject, control) => {
      control.runningWhen(() => Atomics.load(started, 0) === 1);
      if (this.#piscina.queueSize >= this.#maxQueue) {
        reject(new Error(`${where}: the task queue is full (maxQueue ${this.#maxQueue}): task '${name}' was not queued`));
        return;
      }
      const { signal: taskSignal, dispose } = taskAbortSignal(where, name, control.signal, signal, timeout);
      this.#piscina.run(message, { signal: taskSignal, transferList: transferList as never }).then(
        (reply: TaskReply) => {
          // Only a flag whose task finished normally is reused: an aborted task's worker may be gone mid-write.
          Atomics.store(started, 0, 0);
          this.#spareFlags.push(started);
          if (reply.memory) future.memory = reply.memory;
          if (reply.ok) resolve(reply.value as R);
          else reject(withProfile(fromWireError(reply.error), reply.memory));
        },
        (error: unknown) => {
          const explained = this.#explain(where, name, error, taskSignal, Atomics.load(started, 0) === 1);
          // Stopped by the caller's signal, a timeout or close({ wait: false }): the future reads as
          // cancelled, as after cancel().
          if (taskSignal.aborted || this.#terminating) future.cancel(explained);
          else reject(explained);
        },
      ).finally(dispose);
    });
    this.#track(future as Future<unknown>);
    return future;
  }

  #explain(where: string, name: string, error: unknown, signal: AbortSignal, started: boolean): Error {
    if (signal.aborted) return abortErrorFrom(signal, `${where}: task '${name}' was cancelled`);
    if (this.#terminating) {
      return new AbortError(`${where}: pool closed with { wait: false } ${started ? 'while' : 'before'} task '${name}' ${started ? 'ran' : 'started'}`, { cause: error });
    }
    if (error instanceof Error) return error;
    return new Error(`${where}: task '${name}' failed: ${String(error)}`);
  }

  #track(future: Future<unknown>): void {
    this.#outstanding.add(future);
    this.#progress.total++;
    future.addDoneCallback((f) => {
      this.#outstanding.delete(f);
      const p = this.#progress;
      p.completed++;
      if (f.cancelled) p.cancelled++;
      else if (f.state === 'rejected') p.failed++;
      if (this.listenerCount('progress') > 0) this.emit('progress', { ...p } satisfies PoolProgress);
    });
  }
}
