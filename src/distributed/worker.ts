// A cluster worker (what `hotpath worker` runs): a BullMQ Worker that takes jobs from a queue and
// runs the export they name, but only from the modules it was started with (the allow-list);
// job payloads are data. BullMQ provides the rest: locks renewed while a job runs, stalled jobs
// (their worker died) moved back to the queue after lockDuration, retries with backoff.
import type { Job, Worker } from 'bullmq';
import { checkInteger, checkOptions, typeName } from '../core/validate.js';
import { TimeoutError } from '../core/errors.js';
import { decodeValue, encodeValue, type JobData, toJobError } from './job.js';
import { loadExport, resolveModule } from '../core/task-export.js';
import { describeRedis, loadBullmq, type RedisConnection, redisOptions, withReachableRedis } from '../core/redis.js';

export interface ClusterWorkerOptions {
  connection: RedisConnection;
  queue: string;
  /** Jobs run at once. Default 1. */
  concurrency?: number;
  /** Modules jobs may name (paths or package names, resolved from `cwd`). Default: ['hotpath']. */
  modules?: string[];
  /** Milliseconds a job's lock lasts without renewal before the job counts as stalled and is re-queued. Default 30000. */
  lockDuration?: number;
  /** Where module paths resolve from. Default: process.cwd(). */
  cwd?: string;
  /** Milliseconds to reach Redis at start. Default 10000. */
  connectTimeout?: number;
}

/** `this` inside a cluster task function. */
export interface JobContext {
  jobId: string;
  /** 1 on the first run, 2 on the first retry... */
  attempt: number;
  /** Publishes progress (a number or an object) to the executor's progress events. */
  progress(value: number | object): Promise<void>;
}

function raceTimeout<T>(work: Promise<T>, ms: number, jobId: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`job ${jobId} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** Starts a worker once Redis answers; resolves to the running BullMQ Worker (close() stops it). */
export async function startClusterWorker(options: ClusterWorkerOptions): Promise<Worker<JobData, string>> {
  const where = 'startClusterWorker';
  const opts = checkOptions(where, options) as Partial<ClusterWorkerOptions>;
  const redis = redisOptions(where, opts.connection);
  if (typeof opts.queue !== 'string' || opts.queue === '') throw new TypeError(`${where}: queue must be a non-empty string, got ${typeName(opts.queue)}`);
  const concurrency = opts.concurrency === undefined ? 1 : checkInteger(where, 'concurrency', opts.concurrency, 1);
  const lockDuration = opts.lockDuration === undefined ? 30_000 : checkInteger(where, 'lockDuration', opts.lockDuration, 100);
  const connectTimeout = opts.connectTimeout === undefined ? 10_000 : checkInteger(where, 'connectTimeout', opts.connectTimeout, 1);
  const modules = opts.modules ?? ['hotpath'];
  if (!Array.isArray(modules) || modules.length === 0 || !modules.every((m) => typeof m === 'string' && m !== '')) {
    throw new TypeError(`${where}: modules must be a non-empty array of module names, got ${typeName(modules)}`);
  }
  const cwd = opts.cwd ?? process.cwd();
  const { UnrecoverableError, Worker } = loadBullmq();
  const allowed = new Set(modules.map((m) => resolveModule(m, cwd)));

  async function load(data: JobData) {
    let url: string | undefined;
    try {
      url = resolveModule(data.module, cwd);
    } catch {
      // Unresolvable: certainly not on the allow-list.
    }
    if (url === undefined || !allowed.has(url)) {
      throw new Error(`module '${data.module}' is not allowed on this worker, which runs only: ${modules.join(', ')} (--module)`);
    }
    return loadExport(data.module, data.export, cwd);
  }

  async function processJob(job: Job<JobData, string>): Promise<string> {
    const data = job.data;
    let fn;
    let args: unknown[];
    try {
      fn = await load(data);
      args = decodeValue(data.args) as unknown[];
    } catch (error) {
      throw toJobError(error, UnrecoverableError); // retrying cannot fix a missing or forbidden export
    }
    const context: JobContext = {
      jobId: job.id as string,
      attempt: job.attemptsMade + 1,
      progress: (value) => job.updateProgress(value),
    };
    let result: unknown;
    try {
      const running = Promise.resolve(fn.apply(context, args));
      result = await (data.timeout === undefined ? running : raceTimeout(running, data.timeout, context.jobId));
    } catch (error) {
      throw toJobError(error, Error);
    }
    try {
      return encodeValue(`job ${job.id} result`, result);
    } catch (error) {
      throw toJobError(error, UnrecoverableError);
    }
  }

  await withReachableRedis(where, redis, connectTimeout, (r) => r.ping());
  const worker = new Worker<JobData, string>(opts.queue, processJob, {
    connection: redis,
    concurrency,
    lockDuration,
    stalledInterval: lockDuration,
  });
  worker.on('error', (error) => process.stderr.write(`hotpath worker (${describeRedis(redis)}): ${error.message}\n`));
  await worker.waitUntilReady();
  return worker;
}
