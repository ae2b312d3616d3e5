// ClusterExecutor: the Pool's submit/map API over BullMQ queues on Redis, for work that outgrows
// one machine. Each call is one job naming an export of `module`; `hotpath worker` processes on
// any machine run them. BullMQ does the distributed part (retries with backoff, stalled-job
// recovery when a worker dies, progress); results come back through the queue's event stream.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { checkKnownOptions } from '../core/options.js';
import { checkTimeout, raceTimeout } from '../core/timeout.js';
import { callReporting } from '../core/report.js';
import { checkBoolean, checkInteger, checkOptions, typeName } from '../core/validate.js';
import { LostJobError, RemoteError } from '../core/errors.js';
import type { ResultStream } from '../async/map.js';
import { Future, type FutureControl } from '../core/future.js';
import { decodeValue, encodeValue, fromJobFailure, type JobData } from './job.js';
import { type DistributedMapOptions, mapFutures } from './map.js';
import type { MapProgress } from '../core/map-progress.js';
import { usesRenamedOption } from '../core/deprecate.js';
import { loadBullmq, type RedisConnection, redisOptions, withReachableRedis } from '../core/redis.js';

export interface ClusterExecutorOptions {
  /** Redis: `redis://[user:password@]host:port[/db]`, `rediss://` for TLS, or ioredis options. */
  connection: RedisConnection;
  /** BullMQ queue name; workers started with `--queue` the same name run the jobs. */
  queue: string;
  /** The module whose exports jobs run; it must be on the workers' `--module` allow-list. */
  module: string;
  /** Extra runs of a job after it failed (0: run once). Default 2. */
  retries?: number;
  /** @deprecated Use `retries` (= attempts - 1): runs of a job before it fails for good. */
  attempts?: number;
  /** First retry delay in ms, doubling after each failure. Default 1000. */
  backoff?: number;
  /** Milliseconds one attempt may run before failing with a TimeoutError. Default: no limit (Infinity). */
  timeout?: number;
  /** Milliseconds to reach Redis before every submitted job rejects (Infinity: no limit). Default 10000. */
  connectTimeout?: number;
  /**
   * How often (ms) the jobs still awaited are looked up in Redis: one that no longer exists (Redis restarted
   * empty, or failed over to a replica without it) is lost — its future rejects with a LostJobError, or it is
   * submitted again under `resubmitLost`. Also checked at once when the connection comes back. Default 5000;
   * Infinity turns the check off.
   */
  lostJobCheck?: number;
  /**
   * Submit a lost job again (it may then run twice: at-least-once) instead of rejecting its future.
   * Default false.
   */
  resubmitLost?: boolean;
}

/**
 * Progress a job reported (`this.progress(value)`), in the package's progress shape: `completed` of `total`
 * counts jobs (a map's items for `onJobProgress`, the executor's jobs for its 'progress' event).
 */
export interface ClusterProgress extends MapProgress {
  jobId: string;
  /** Position of the job in its map() input; absent for submit(). */
  index?: number;
  progress: number | string | boolean | object;
}

export interface ClusterMapOptions extends DistributedMapOptions {
  /**
   * Progress a job reports through `this.progress()`, with its position in the input and the map's
   * `{ completed, total }`. Default concurrency: 1000.
   */
  onJobProgress?: (event: ClusterProgress) => void;
}

export interface ClusterStats {
  submitted: number;
  completed: number;
  failed: number;
  /** Jobs BullMQ found stalled (their worker died or blocked) and put back in the queue. */
  stalled: number;
  /** Jobs found missing from Redis while awaited (rejected with LostJobError, or resubmitted). */
  lost: number;
  /** Lost jobs submitted again (resubmitLost). */
  resubmitted: number;
}

interface PendingJob {
  resolve(value: unknown): void;
  reject(reason: unknown): void;
  control: FutureControl;
  index?: number;
  onJobProgress?: (event: ClusterProgress) => void;
  /** The map's count of results in and its input length, read when the job reports progress. */
  mapProgress?: MapProgress;
  /** The job as added to the queue (kept to resubmit it), and whether Redis has acknowledged it. */
  queued: QueuedJob;
  added: boolean;
}

interface Connected {
  queue: Queue<JobData, string>;
  events: QueueEvents;
}

const ADD_BATCH = 500;

type QueuedJob = { name: string; data: JobData; opts: { jobId: string } & Record<string, unknown> };

function checkExportName(where: string, exportName: unknown): asserts exportName is string {
  if (typeof exportName !== 'string' || exportName === '')
    throw new TypeError(`${where}: exportName must be a non-empty string, got ${typeName(exportName)}`);
}

export class ClusterExecutor extends EventEmitter {
  readonly queueName: string;
  readonly module: string;
  readonly #jobOptions: { attempts: number; backoff: { type: 'exponential'; delay: number } };
  readonly #timeout: number | undefined;
  readonly #pending = new Map<string, PendingJob>();
  readonly #counts: ClusterStats = {
    submitted: 0,
    completed: 0,
    failed: 0,
    stalled: 0,
    lost: 0,
    resubmitted: 0,
  };
  readonly #lostJobCheck: number | undefined;
  readonly #resubmitLost: boolean;
  #lostJobTimer: NodeJS.Timeout | null = null;
  #checkingLostJobs = false;
  readonly #connected: Promise<Connected>;
  readonly #batch: QueuedJob[] = [];
  #closedError: Error | null = null;

  constructor(options: ClusterExecutorOptions) {
    super();
    const where = 'ClusterExecutor';
    const opts = checkKnownOptions(where, options, [
      'connection',
      'queue',
      'module',
      'retries',
      'attempts',
      'backoff',
      'timeout',
      'connectTimeout',
      'lostJobCheck',
      'resubmitLost',
    ]) as Partial<ClusterExecutorOptions>;
    const redis = redisOptions(where, opts.connection);
    for (const key of ['queue', 'module'] as const) {
      if (typeof opts[key] !== 'string' || opts[key] === '')
        throw new TypeError(`${where}: ${key} must be a non-empty string, got ${typeName(opts[key])}`);
    }
    this.queueName = opts.queue as string;
    this.module = opts.module as string;
    let attempts = 3; // BullMQ counts runs: retries + 1
    const renamed = { old: 'attempts', new: 'retries' };
    if (usesRenamedOption(where, opts, renamed, 'HOTPATH_DEP_CLUSTER_ATTEMPTS', 'retries = attempts - 1'))
      attempts = checkInteger(where, 'attempts', opts.attempts, 1);
    else if (opts.retries !== undefined) attempts = checkInteger(where, 'retries', opts.retries, 0) + 1;
    const backoff = opts.backoff === undefined ? 1000 : checkInteger(where, 'backoff', opts.backoff, 0);
    this.#timeout = checkTimeout(where, 'timeout', opts.timeout);
    const connectTimeout =
      opts.connectTimeout === undefined ? 10_000 : checkTimeout(where, 'connectTimeout', opts.connectTimeout);
    this.#jobOptions = { attempts, backoff: { type: 'exponential', delay: backoff } };
    this.#lostJobCheck =
      opts.lostJobCheck === undefined ? 5000 : checkTimeout(where, 'lostJobCheck', opts.lostJobCheck);
    if (this.#lostJobCheck !== undefined) checkInteger(where, 'lostJobCheck', this.#lostJobCheck, 1);
    this.#resubmitLost =
      opts.resubmitLost === undefined ? false : checkBoolean(where, 'resubmitLost', opts.resubmitLost);
    this.#connected = this.#connect(redis, connectTimeout);
    this.#connected.catch(() => {}); // each submitted Future reports it
  }

  /** Runs `exportName(...args)` of the executor's module as one job. */
  submit<T = unknown>(exportName: string, ...args: unknown[]): Future<T> {
    return this.#enqueue<T>('ClusterExecutor.submit', exportName, args, {});
  }

  /** One job per item, `exportName(item)`, as the Pool's map: read lazily, `concurrency` jobs in flight. */
  map<R = unknown>(
    exportName: string,
    items: Iterable<unknown> | AsyncIterable<unknown>,
    options?: ClusterMapOptions,
  ): ResultStream<R> {
    const where = 'ClusterExecutor.map';
    checkExportName(where, exportName);
    // All the options are checked by mapFutures.
    const onJobProgress = (checkOptions(where, options) as ClusterMapOptions).onJobProgress;
    if (onJobProgress !== undefined && typeof onJobProgress !== 'function') {
      throw new TypeError(`${where}: onJobProgress must be a function, got ${typeName(onJobProgress)}`);
    }
    return mapFutures<unknown, R>(
      where,
      items,
      (item, index, mapProgress) => this.#enqueue<R>(where, exportName, [item], { index, onJobProgress, mapProgress }),
      options,
      1000,
      ['onJobProgress'],
    );
  }

  /** A fresh snapshot of the executor's counters. */
  stats(): ClusterStats {
    return { ...this.#counts };
  }

  /** Rejects what is still pending here (the jobs stay in Redis) and closes the connections. */
  async close(): Promise<void> {
    this.#closedError ??= new Error(
      `ClusterExecutor.close: the executor for queue '${this.queueName}' was closed before this job finished`,
    );
    for (const job of this.#pending.values()) job.reject(this.#closedError);
    this.#pending.clear();
    this.#stopLostJobCheck();
    const connected = await this.#connected.catch(() => null);
    if (connected) await Promise.all([connected.events.close(), connected.queue.close()]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #enqueue<T>(
    where: string,
    exportName: unknown,
    args: unknown[],
    tag: Pick<PendingJob, 'index' | 'onJobProgress' | 'mapProgress'>,
  ): Future<T> {
    checkExportName(where, exportName);
    const jobId = randomUUID();
    const data: JobData = {
      module: this.module,
      export: exportName,
      args: encodeValue(where, args),
      ...(this.#timeout ? { timeout: this.#timeout } : {}),
    };
    const queued: QueuedJob = {
      name: exportName,
      data,
      opts: { ...this.#jobOptions, jobId, removeOnComplete: { age: 3600 }, removeOnFail: { age: 24 * 3600 } },
    };
    const future = new Future<T>((resolve, reject, control) => {
      if (this.#closedError) return reject(this.#closedError);
      this.#pending.set(jobId, {
        resolve: resolve as (value: unknown) => void,
        reject,
        control,
        ...tag,
        queued,
        added: false,
      });
      control.signal.addEventListener('abort', () => this.#cancelJob(jobId));
    });
    if (future.done) return future;
    this.#counts.submitted++;
    this.#addJob(queued);
    return future;
  }

  #addJob(queued: QueuedJob): void {
    this.#batch.push(queued);
    if (this.#batch.length === 1) setImmediate(() => this.#flush());
    this.#startLostJobCheck();
  }

  #startLostJobCheck(): void {
    if (this.#lostJobCheck === undefined || this.#lostJobTimer !== null) return;
    this.#lostJobTimer = setInterval(() => void this.#checkLostJobs(), this.#lostJobCheck);
    this.#lostJobTimer.unref();
  }

  #stopLostJobCheck(): void {
    if (this.#lostJobTimer !== null) clearInterval(this.#lostJobTimer);
    this.#lostJobTimer = null;
  }

  /**
   * Looks up every awaited job Redis has acknowledged: a job whose hash is gone was lost with Redis's data
   * (finished jobs keep theirs for an hour, so a finished job whose event is still on its way is not lost).
   * An unreachable Redis skips the round; ioredis reconnects and the next round checks again.
   */
  async #checkLostJobs(): Promise<void> {
    if (this.#checkingLostJobs || this.#closedError) return;
    if (this.#pending.size === 0) return this.#stopLostJobCheck();
    this.#checkingLostJobs = true;
    try {
      const { queue } = await this.#connected;
      const ids = [...this.#pending].filter(([, job]) => job.added).map(([id]) => id);
      if (ids.length === 0) return;
      // BullMQ's client is an ioredis connection (its own typings show only the commands BullMQ uses).
      const client = (await queue.client) as unknown as Redis;
      const pipeline = client.pipeline();
      for (const id of ids) pipeline.exists(queue.toKey(id));
      // While ioredis reconnects, commands wait in its offline queue: a round that cannot finish within the
      // interval is abandoned (the next one asks again) rather than blocking every later round.
      const replies =
        (await raceTimeout(pipeline.exec(), Math.max(this.#lostJobCheck ?? 0, 1000), 'lost-job check: no reply')) ?? [];
      ids.forEach((id, i) => {
        const [error, exists] = replies[i] ?? [null, 1];
        if (error === null && exists === 0) this.#lost(id);
      });
    } catch {
      // Redis unreachable or a command failed: the next round tries again.
    } finally {
      this.#checkingLostJobs = false;
    }
  }

  #lost(jobId: string): void {
    const job = this.#take(jobId);
    if (!job) return;
    this.#counts.lost++;
    if (!this.#resubmitLost) {
      job.reject(
        new LostJobError(
          this.queueName,
          jobId,
          'no longer exists in Redis (restarted without its data?); it may or may not have run',
        ),
      );
      return;
    }
    this.#counts.resubmitted++;
    const newId = randomUUID();
    const queued: QueuedJob = { ...job.queued, opts: { ...job.queued.opts, jobId: newId } };
    this.#pending.set(newId, { ...job, queued, added: false });
    job.control.signal.addEventListener('abort', () => this.#cancelJob(newId));
    this.#addJob(queued);
  }

  /** Adds the jobs submitted since the last flush in bulk (one round trip per ADD_BATCH jobs). */
  #flush(): void {
    const jobs = this.#batch.splice(0);
    this.#connected
      .then(async ({ queue }) => {
        for (let i = 0; i < jobs.length; i += ADD_BATCH) {
          const slice = jobs.slice(i, i + ADD_BATCH);
          await queue.addBulk(slice);
          for (const job of slice) {
            const pending = this.#pending.get(job.opts.jobId);
            if (pending) pending.added = true;
          }
        }
      })
      .catch((error: unknown) => {
        for (const job of jobs) this.#take(job.opts.jobId)?.reject(error);
      });
  }

  async #connect(redis: ReturnType<typeof redisOptions>, connectTimeout: number | undefined): Promise<Connected> {
    // Read events from just before our first job: a job that finishes before the event reader's
    // first blocking read is still seen.
    const lastEventId = await withReachableRedis('ClusterExecutor', redis, connectTimeout, async (r) => {
      const last = await r.xrevrange(`bull:${this.queueName}:events`, '+', '-', 'COUNT', 1);
      return last[0]?.[0] ?? '0-0';
    });
    const { Job, Queue, QueueEvents } = loadBullmq();
    const queue = new Queue<JobData, string>(this.queueName, { connection: redis });
    const events = new QueueEvents(this.queueName, { connection: redis, lastEventId });
    // ioredis reconnects by itself; errors meanwhile must not crash the process.
    queue.on('error', () => {});
    events.on('error', () => {});
    // Back after a disconnection: Redis may have come back without its data, so look for lost jobs at once.
    void queue.client
      .then((client) => (client as unknown as Redis).on('ready', () => void this.#checkLostJobs()))
      .catch(() => {});
    events.on('active', ({ jobId }) => this.#pending.get(jobId)?.control.markRunning());
    events.on('progress', ({ jobId, data }) => {
      const job = this.#pending.get(jobId);
      if (!job) return;
      const own = { jobId, ...(job.index === undefined ? {} : { index: job.index }), progress: data };
      // Jobs still awaited are the submitted ones not yet settled.
      const submitted = this.#counts.submitted;
      if (job.onJobProgress && job.mapProgress)
        callReporting('onJobProgress', job.onJobProgress, { ...job.mapProgress, ...own });
      this.emit('progress', { completed: submitted - this.#pending.size, total: submitted, ...own });
    });
    events.on('stalled', () => this.#counts.stalled++);
    events.on('completed', ({ jobId, returnvalue }) => {
      const job = this.#take(jobId);
      if (!job) return;
      this.#counts.completed++;
      try {
        // QueueEvents hands the return value over as JSON text of the worker's base64 string.
        const text = returnvalue.startsWith('"') ? (JSON.parse(returnvalue) as string) : returnvalue;
        job.resolve(decodeValue(text));
      } catch (error) {
        job.reject(error);
      }
    });
    events.on('failed', ({ jobId, failedReason }) => {
      const job = this.#take(jobId);
      if (!job) return;
      this.#counts.failed++;
      Job.fromId<JobData, string>(queue, jobId)
        .then((stored) => stored?.stacktrace?.at(-1))
        .catch(() => undefined)
        .then((stack) => job.reject(new RemoteError(`queue ${this.queueName}`, fromJobFailure(failedReason, stack))));
    });
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    return { queue, events };
  }

  /** The pending job, removed from the table: whatever arrives for it later is ignored. */
  #take(jobId: string): PendingJob | undefined {
    const job = this.#pending.get(jobId);
    this.#pending.delete(jobId);
    return job;
  }

  #cancelJob(jobId: string): void {
    this.#pending.delete(jobId);
    // A waiting job is removed; an active one is locked by its worker and finishes unobserved.
    void this.#connected.then(({ queue }) => queue.remove(jobId)).catch(() => {});
  }
}
