// A cluster worker (what `hotpath worker` runs): a BullMQ Worker that takes jobs from a queue and
// runs the export they name, but only from the modules it was started with (the allow-list);
// job payloads are data. Nothing is allowed by default, and exports that start processes or
// workers (openGateway, startClusterWorker) never run from a queue, whatever the allow-list: anyone
// who can write to Redis would otherwise run commands on every worker. BullMQ provides the rest: locks
// renewed while a job runs, stalled jobs (their worker died) moved back to the queue after lockDuration,
// retries with backoff.
import type { Job, Worker } from 'bullmq';
import { checkKnownOptions } from '../core/options.js';
import { checkTimeout, raceTimeout } from '../core/timeout.js';
import { checkInteger, typeName } from '../core/validate.js';
import { openGateway } from './gateway.js';
import { decodeValue, encodeValue, type JobData, toJobError } from './job.js';
import { loadExport, resolveModule } from '../core/task-export.js';
import { describeRedis, loadBullmq, type RedisConnection, redisOptions, withReachableRedis } from '../core/redis.js';

export interface ClusterWorkerOptions {
  connection: RedisConnection;
  queue: string;
  /** Jobs run at once. Default 1. */
  concurrency?: number;
  /** Modules jobs may name (paths or package names, resolved from `cwd`). Required: nothing runs by default. */
  modules: string[];
  /**
   * Milliseconds a job's lock lasts without renewal before the job counts as stalled and is re-queued.
   * Default 30000.
   */
  lockDuration?: number;
  /**
   * Milliseconds between BullMQ's checks for stalled jobs (locks that expired). A job whose worker died is run
   * again between lockDuration and lockDuration + stalledInterval after its last lock renewal. Default: lockDuration.
   */
  stalledInterval?: number;
  /** Where module paths resolve from. Default: process.cwd(). */
  cwd?: string;
  /** Milliseconds to reach Redis at start (Infinity: no limit). Default 10000. */
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

/** Exports no job may run, by identity (a module re-exporting them is refused too): they start processes or workers. */
const neverFromQueue = new Map<unknown, string>([
  [openGateway, 'openGateway'],
  [startClusterWorker, 'startClusterWorker'],
]);

/** Starts a worker once Redis answers; resolves to the running BullMQ Worker (close() stops it). */
export async function startClusterWorker(options: ClusterWorkerOptions): Promise<Worker<JobData, string>> {
  const where = 'startClusterWorker';
  const opts = checkKnownOptions(where, options, [
    'connection',
    'queue',
    'concurrency',
    'modules',
    'lockDuration',
    'stalledInterval',
    'cwd',
    'connectTimeout',
  ]) as Partial<ClusterWorkerOptions>;
  const redis = redisOptions(where, opts.connection);
  if (typeof opts.queue !== 'string' || opts.queue === '')
    throw new TypeError(`${where}: queue must be a non-empty string, got ${typeName(opts.queue)}`);
  const concurrency = opts.concurrency === undefined ? 1 : checkInteger(where, 'concurrency', opts.concurrency, 1);
  const lockDuration =
    opts.lockDuration === undefined ? 30_000 : checkInteger(where, 'lockDuration', opts.lockDuration, 100);
  const stalledInterval =
    opts.stalledInterval === undefined
      ? lockDuration
      : checkInteger(where, 'stalledInterval', opts.stalledInterval, 100);
  const connectTimeout =
    opts.connectTimeout === undefined ? 10_000 : checkTimeout(where, 'connectTimeout', opts.connectTimeout);
  const modules = opts.modules as string[];
  if (!Array.isArray(modules) || modules.length === 0 || !modules.every((m) => typeof m === 'string' && m !== '')) {
    throw new TypeError(
      `${where}: modules must be a non-empty array of the module names jobs may run (nothing is allowed by ` +
        `default), got ${typeName(modules)}`,
    );
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
      throw new Error(
        `module '${data.module}' is not allowed on this worker, which runs only: ${modules.join(', ')} (--module)`,
      );
    }
    const fn = await loadExport(data.module, data.export, cwd);
    const refused = neverFromQueue.get(fn);
    if (refused)
      throw new Error(
        `'${data.export}' of '${data.module}' is ${refused}, which starts processes: it never runs from a queue`,
      );
    return fn;
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
      result = await raceTimeout(running, data.timeout, `job ${context.jobId} timed out after ${data.timeout} ms`);
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
    stalledInterval,
  });
  worker.on('error', (error) => process.stderr.write(`hotpath worker (${describeRedis(redis)}): ${error.message}\n`));
  await worker.waitUntilReady();
  return worker;
}
