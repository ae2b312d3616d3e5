// `hotpath worker`: a cluster worker serving one BullMQ queue until SIGINT/SIGTERM.
import { startClusterWorker } from '../distributed/worker.js';
import { describeRedis, redisOptions } from '../core/redis.js';
import { parseCommandArgs, positiveIntegerFlag, UsageError } from './io.js';

const CLOSE_GRACE_MS = 10_000;

export async function workerCommand(argv: string[]): Promise<number> {
  const { values: flags } = parseCommandArgs({
    args: argv,
    allowPositionals: false,
    strict: true,
    options: {
      redis: { type: 'string' },
      queue: { type: 'string' },
      concurrency: { type: 'string' },
      module: { type: 'string', multiple: true },
      'lock-duration': { type: 'string' },
      'stalled-interval': { type: 'string' },
    },
  });
  if (!flags.queue) throw new UsageError('--queue is required');
  let connection;
  try {
    connection = redisOptions('--redis', flags.redis ?? 'redis://127.0.0.1:6379');
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const concurrency = positiveIntegerFlag('concurrency', flags.concurrency, 1);
  const lockDuration = positiveIntegerFlag('lock-duration', flags['lock-duration'], 30_000);
  const stalledInterval = positiveIntegerFlag('stalled-interval', flags['stalled-interval'], lockDuration);
  if (!flags.module)
    throw new UsageError('--module is required: name the modules jobs may run (nothing is allowed by default)');
  const modules = flags.module;
  const worker = await startClusterWorker({
    connection,
    queue: flags.queue,
    concurrency,
    modules,
    lockDuration,
    stalledInterval,
  });
  process.stderr.write(
    `hotpath worker: serving queue '${flags.queue}' on ${describeRedis(connection)} (pid ${process.pid}, concurrency ` +
      `${concurrency}, modules: ${modules.join(', ')})\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  // close() waits for running jobs; if Redis is gone meanwhile it would wait forever.
  const closed = await Promise.race([
    worker.close().then(() => true),
    new Promise<boolean>((resolve) => setTimeout(resolve, CLOSE_GRACE_MS, false).unref()),
  ]);
  if (closed) return 0;
  process.stderr.write(
    `hotpath worker: not closed cleanly within ${CLOSE_GRACE_MS / 1000} s (Redis unreachable?); exiting\n`,
  );
  process.exit(1);
}
