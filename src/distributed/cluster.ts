// ClusterExecutor: the Pool's submit/map API over BullMQ queues on Redis, for work that outgrows
// one machine. Each call is one job naming an export of `module`; `hotpath worker` processes on
// any machine run them. BullMQ does the distributed part (retries with backoff, stalled-job
// recovery when a worker dies, progress); results come back through the queue's event stream.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Queue, QueueEvents } from 'bullmq';
import { checkInteger, checkOptions, typeName } from '../common/validate.js';
import { RemoteError } from './errors.js';
import { Future, type FutureControl } from './future.js';
import { decodeValue, encodeValue, fromJobFailure, type JobData } from './job.js';
import { mapResult, type MapOptions, type MapResult } from './map-result.js';
import { loadBullmq, type RedisConnection, redisOptions, withReachableRedis } from './redis.js';

export interface ClusterExecutorOptions {
  /** Redis: `redis://[user:password@]host:port[/db]`, `rediss://` for TLS, or ioredis options. */
  connection: RedisConnection;
  /** BullMQ queue name; workers started with `--queue` the same name run the jobs. */
  queue: string;
  /** The module whose exports jobs run; it must be on the workers' `--module` allow-list. */
  module: string;
  /** Runs of a job before it fails for good. Default 3. */
  attempts?: number;
  /** First retry delay in ms, doubling after each failure. Default 1000. */
  backoff?: number;
  /** Milliseconds one attempt may run before failing with a TimeoutError. Default: no limit. */
  timeout?: number;
  /** Milliseconds to reach Redis before every submitted job rejects. Default 10000. */
  connectTimeout?: number;
}

export interface ClusterProgress {
  jobId: string;
  /** Position of the job in its map() input; absent for submit(). */
  index?: number;
  progress: number | string | boolean | object;
}

export interface ClusterMapOptions extends MapOptions {
  onProgress?: (event: ClusterProgress) => void;
}

export interface ClusterStats {
  submitted: number;
  completed: number;
  failed: number;
  /** Jobs BullMQ found stalled (their worker died or blocked) and put back in the queue. */
  stalled: number;
}

interface PendingJob {
  resolve(value: unknown): void;
  reject(reason: unknown): void;
  control: FutureControl;
  index?: number;
  onProgress?: (event: ClusterProgress) => void;
}

interface Connected {
  queue: Queue<JobData, string>;
  events: QueueEvents;
}

const ADD_BATCH = 500;

export class ClusterExecutor extends EventEmitter {
  readonly queueName: string;
  readonly module: string;
  private readonly jobOptions: { attempts: number; backoff: { type: 'exponential'; delay: number } };
  private readonly timeout: number | undefined;
  private readonly pending = new Map<string, PendingJob>();
  private readonly counts: ClusterStats = { submitted: 0, completed: 0, failed: 0, stalled: 0 };
  private readonly connected: Promise<Connected>;
  private closedError: Error | null = null;

  constructor(options: ClusterExecutorOptions) {
    super();
    const where = 'ClusterExecutor';
    const opts = checkOptions(where, options) as Partial<ClusterExecutorOptions>;
    const redis = redisOptions(where, opts.connection);
    for (const key of ['queue', 'module'] as const) {
      if (typeof opts[key] !== 'string' || opts[key] === '') throw new TypeError(`${where}: ${key} must be a non-empty string, got ${typeName(opts[key])}`);
    }
    this.queueName = opts.queue as string;
    this.module = opts.module as string;
    const attempts = opts.attempts === undefined ? 3 : checkInteger(where, 'attempts', opts.attempts, 1);
    const backoff = opts.backoff === undefined ? 1000 : checkInteger(where, 'backoff', opts.backoff, 0);
    this.timeout = opts.timeout === undefined ? undefined : checkInteger(where, 'timeout', opts.timeout, 1);
    const connectTimeout = opts.connectTimeout === undefined ? 10_000 : checkInteger(where, 'connectTimeout', opts.connectTimeout, 1);
    this.jobOptions = { attempts, backoff: { type: 'exponential', delay: backoff } };
    this.connected = this.connect(redis, connectTimeout);
    this.connected.catch(() => {}); // each submitted Future reports it
  }

  /** Runs `exportName(...args)` of the executor's module as one job. */
  submit<T = unknown>(exportName: string, ...args: unknown[]): Future<T> {
    return this.enqueue<T>('ClusterExecutor.submit', exportName, [args], null)[0];
  }

  /** One job per item, `exportName(item)`; see MapResult. Jobs are added in batches. */
  map<T = unknown>(exportName: string, items: Iterable<unknown>, options?: ClusterMapOptions): MapResult<T> {
    const opts = checkOptions('ClusterExecutor.map', options) as ClusterMapOptions;
    if (items === null || typeof items !== 'object' || typeof (items as Iterable<unknown>)[Symbol.iterator] !== 'function') {
      throw new TypeError(`ClusterExecutor.map: items must be iterable, got ${typeName(items)}`);
    }
    if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') {
      throw new TypeError(`ClusterExecutor.map: onProgress must be a function, got ${typeName(opts.onProgress)}`);
    }
    const futures = this.enqueue<T>('ClusterExecutor.map', exportName, Array.from(items, (item) => [item]), opts);
    return mapResult(futures, opts.ordered !== false);
  }

  get stats(): ClusterStats {
    return { ...this.counts };
  }

  /** Rejects what is still pending here (the jobs stay in Redis) and closes the connections. */
  async close(): Promise<void> {
    this.closedError ??= new Error(`ClusterExecutor.close: the executor for queue '${this.queueName}' was closed before this job finished`);
    for (const job of this.pending.values()) job.reject(this.closedError);
    this.pending.clear();
    const connected = await this.connected.catch(() => null);
    if (connected) await Promise.all([connected.events.close(), connected.queue.close()]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** One job per argument list; `map` (null for submit) numbers them and routes their progress. */
  private enqueue<T>(where: string, exportName: unknown, argLists: unknown[][], map: ClusterMapOptions | null): Future<T>[] {
    if (typeof exportName !== 'string' || exportName === '') throw new TypeError(`${where}: exportName must be a non-empty string, got ${typeName(exportName)}`);
    const jobs = argLists.map((args) => ({
      name: exportName,
      data: { module: this.module, export: exportName, args: encodeValue(where, args), ...(this.timeout ? { timeout: this.timeout } : {}) },
      opts: { ...this.jobOptions, jobId: randomUUID(), removeOnComplete: { age: 3600 }, removeOnFail: { age: 24 * 3600 } },
    }));
    const futures = jobs.map(
      (job, index) =>
        new Future<T>((resolve, reject, control) => {
          const jobId = job.opts.jobId;
          if (this.closedError) return reject(this.closedError);
          this.pending.set(jobId, { resolve: resolve as (value: unknown) => void, reject, control, ...(map ? { index, onProgress: map.onProgress } : {}) });
          control.signal.addEventListener('abort', () => this.cancelJob(jobId));
        }),
    );
    this.counts.submitted += jobs.length;
    this.connected
      .then(async ({ queue }) => {
        for (let i = 0; i < jobs.length; i += ADD_BATCH) await queue.addBulk(jobs.slice(i, i + ADD_BATCH));
      })
      .catch((error: unknown) => {
        for (const job of jobs) this.take(job.opts.jobId)?.reject(error);
      });
    return futures;
  }

  private async connect(redis: ReturnType<typeof redisOptions>, connectTimeout: number): Promise<Connected> {
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
    events.on('active', ({ jobId }) => this.pending.get(jobId)?.control.markRunning());
    events.on('progress', ({ jobId, data }) => {
      const job = this.pending.get(jobId);
      if (!job) return;
      const event: ClusterProgress = { jobId, progress: data, ...(job.index === undefined ? {} : { index: job.index }) };
      job.onProgress?.(event);
      this.emit('progress', event);
    });
    events.on('stalled', () => this.counts.stalled++);
    events.on('completed', ({ jobId, returnvalue }) => {
      const job = this.take(jobId);
      if (!job) return;
      this.counts.completed++;
      try {
        // QueueEvents hands the return value over as JSON text of the worker's base64 string.
        const text = returnvalue.startsWith('"') ? (JSON.parse(returnvalue) as string) : returnvalue;
        job.resolve(decodeValue(text));
      } catch (error) {
        job.reject(error);
      }
    });
    events.on('failed', ({ jobId, failedReason }) => {
      const job = this.take(jobId);
      if (!job) return;
      this.counts.failed++;
      Job.fromId<JobData, string>(queue, jobId)
        .then((stored) => stored?.stacktrace?.at(-1))
        .catch(() => undefined)
        .then((stack) => job.reject(new RemoteError(`queue ${this.queueName}`, fromJobFailure(failedReason, stack))));
    });
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    return { queue, events };
  }

  /** The pending job, removed from the table: whatever arrives for it later is ignored. */
  private take(jobId: string): PendingJob | undefined {
    const job = this.pending.get(jobId);
    this.pending.delete(jobId);
    return job;
  }

  private cancelJob(jobId: string): void {
    this.pending.delete(jobId);
    // A waiting job is removed; an active one is locked by its worker and finishes unobserved.
    void this.connected.then(({ queue }) => queue.remove(jobId)).catch(() => {});
  }
}
