import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClusterExecutor,
  describe as describeValues,
  RemoteError,
  startClusterWorker,
  type ClusterProgress,
} from 'hotpath';
import { repoRoot, runCli } from './helpers.js';
import { fixtures, startRedis, type Server } from './distributed-servers.js';

const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-cluster-'));
let marker = 0;
const freshMarker = () => path.join(tmp, `marker-${marker++}`);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

let redis: Server | string;
let url = '';
const workers: ChildProcess[] = [];

/** A `hotpath worker` process, resolved once it serves the queue. */
function startWorker(queue: string, ...extra: string[]): Promise<ChildProcess> {
  return startWorkerOn(url, queue, ...extra);
}

function startWorkerOn(redisUrl: string, queue: string, ...extra: string[]): Promise<ChildProcess> {
  const args = [
    cli,
    'worker',
    '--redis',
    redisUrl,
    '--queue',
    queue,
    '--module',
    fixtures,
    '--lock-duration',
    '1000',
    ...extra,
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'pipe'] });
  workers.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('serving queue')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited with code ${code}: ${output}`)));
  });
}

beforeAll(async () => {
  redis = await startRedis();
  if (typeof redis === 'string') console.warn(`skipping cluster tests: ${redis}`);
  else url = `redis://127.0.0.1:${redis.port}`;
});

/** SIGTERM (a clean close), resolved once the worker has exited. */
async function stopWorker(worker: ChildProcess): Promise<void> {
  if (worker.exitCode !== null || worker.signalCode !== null) return;
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  worker.kill('SIGTERM');
  await exited;
}

afterAll(async () => {
  await Promise.all(workers.map(stopWorker));
  if (typeof redis !== 'string') await redis.stop();
});

describe('ClusterExecutor on BullMQ', () => {
  it('completes every job of a 1000-job map exactly once while a worker is SIGKILLed mid-job', async (ctx) => {
    if (typeof redis === 'string') return ctx.skip();
    const [victim] = await Promise.all([
      startWorker('kill', '--concurrency', '4'),
      startWorker('kill', '--concurrency', '4'),
    ]);
    const executor = new ClusterExecutor({ connection: url, queue: 'kill', module: fixtures, backoff: 10 });
    try {
      const results: { x: number; pid: number }[] = [];
      let killedAt = -1;
      for await (const r of executor.map<{ x: number; pid: number }>('tagged', range(1000), { ordered: false })) {
        results.push(r);
        if (results.length === 100) {
          killedAt = results.length;
          victim.kill('SIGKILL');
        }
      }
      expect(killedAt).toBe(100);
      expect(results.map((r) => r.x).sort((a, b) => a - b)).toEqual(range(1000));
      expect(new Set(results.map((r) => r.pid)).has(victim.pid as number)).toBe(true);
      expect(executor.stats()).toMatchObject({ submitted: 1000, completed: 1000, failed: 0 });
      expect(executor.stats().stalled).toBeGreaterThanOrEqual(1);
      const queue = new Queue('kill', { connection: { host: '127.0.0.1', port: (redis as Server).port } });
      const counts = await queue.getJobCounts('completed', 'failed', 'active', 'wait', 'delayed');
      await queue.close();
      expect(counts).toEqual({ completed: 1000, failed: 0, active: 0, wait: 0, delayed: 0 });
    } finally {
      await executor.close();
    }
  });

  describe('jobs, errors, retries, progress', () => {
    let executor: ClusterExecutor;
    beforeAll(async () => {
      if (typeof redis === 'string') return;
      await startWorker('jobs', '--concurrency', '4');
      executor = new ClusterExecutor({ connection: url, queue: 'jobs', module: fixtures, retries: 1, backoff: 10 });
    });
    afterAll(async () => {
      await executor?.close();
    });

    it('runs submit and map with structured values', async (ctx) => {
      if (typeof redis === 'string') return ctx.skip();
      const future = executor.submit<Float64Array>('scale', new Float64Array([1.5, -2]), 4);
      expect(await future).toEqual(new Float64Array([6, -8]));
      expect(future.state).toBe('fulfilled');
      expect(await executor.map('square', [3, 4, 5]).toArray()).toEqual([9, 16, 25]);
    });

    it('retries a failed attempt with backoff, then reports a lasting failure with the remote stack', async (ctx) => {
      if (typeof redis === 'string') return ctx.skip();
      expect(await executor.submit('failOnce', freshMarker(), 'second try')).toBe('second try');
      const error = await executor.submit('fail', 'always').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RemoteError);
      expect((error as RemoteError).message).toBe('RangeError: always (on queue jobs)');
      expect((error as RemoteError).remoteStack).toMatch(/at (Object\.)?fail .*distributed-tasks\.mjs/);
    });

    it('rejects an unknown export and a module off the allow-list without retrying', async (ctx) => {
      if (typeof redis === 'string') return ctx.skip();
      await expect(executor.submit('nope')).rejects.toThrow(/has no exported function 'nope'/);
      const outsider = new ClusterExecutor({ connection: url, queue: 'jobs', module: path.join(tmp, 'evil.mjs') });
      await expect(outsider.submit('run')).rejects.toThrow(
        /module '.*evil\.mjs' is not allowed on this worker, which runs only: .*distributed-tasks\.mjs/,
      );
      await outsider.close();
    });

    it('fails an attempt that overruns the per-job timeout', async (ctx) => {
      if (typeof redis === 'string') return ctx.skip();
      const strict = new ClusterExecutor({
        connection: url,
        queue: 'jobs',
        module: fixtures,
        timeout: 100,
        retries: 0,
      });
      await expect(strict.submit('whereAfter', 5000, 1)).rejects.toThrow(/TimeoutError: job .* timed out after 100 ms/);
      expect(await strict.submit('square', 2)).toBe(4);
      await strict.close();
    });

    it('reports progress with the job id and map index, in the { completed, total } shape', async (ctx) => {
      if (typeof redis === 'string') return ctx.skip();
      const seen: ClusterProgress[] = [];
      const emitted: ClusterProgress[] = [];
      const listener = (event: ClusterProgress) => emitted.push(event);
      executor.on('progress', listener);
      const done: number[] = [];
      const result = executor.map('withProgress', [1, 2, 3], {
        onJobProgress: (e) => seen.push(e),
        onProgress: (p) => done.push(p.completed),
      });
      expect(await result.toArray()).toEqual([10, 20, 30]);
      executor.off('progress', listener);
      expect(done).toEqual([1, 2, 3]);
      expect(seen.map((e) => e.index).sort()).toEqual([0, 1, 2]);
      expect(seen.every((e) => e.progress === 50 && typeof e.jobId === 'string')).toBe(true);
      // onJobProgress counts the map's items; a job reports before its own result is in.
      expect(seen.every((e) => e.total === 3 && e.completed >= 0 && e.completed < 3)).toBe(true);
      expect(emitted).toHaveLength(3);
      // The executor's event counts its jobs: submitted so far, and settled of those.
      const submitted = executor.stats().submitted;
      expect(emitted.every((e) => e.total <= submitted && (e.completed as number) < (e.total as number))).toBe(true);
      expect(emitted.map((e) => e.jobId).sort()).toEqual(seen.map((e) => e.jobId).sort());
    });

    it('a worker allows nothing by default; allowed, hotpath runs but never its spawning exports', async (ctx) => {
      if (typeof redis === 'string') return ctx.skip();
      await expect(startClusterWorker({ connection: url, queue: 'builtin' } as never)).rejects.toThrow(
        /modules must be a non-empty array .*nothing is allowed by default/,
      );
      const worker = await startClusterWorker({ connection: url, queue: 'builtin', modules: ['hotpath'] });
      const builtin = new ClusterExecutor({
        connection: url,
        queue: 'builtin',
        module: 'hotpath',
        retries: 2,
        backoff: 10,
      });
      const queue = new Queue('builtin', { connection: { host: '127.0.0.1', port: (redis as Server).port } });
      try {
        const values = new Float64Array([1, 2, 3, 10]);
        expect(await builtin.submit('describe', values)).toEqual(describeValues(values));
        await expect(builtin.submit('square', 2)).rejects.toThrow(/has no exported function 'square'/);
        // Security (issue 16): a job naming hotpath#openGateway would run ssh with ProxyCommand for anyone who
        // can write to Redis.
        for (const name of ['openGateway', 'startClusterWorker']) {
          await expect(
            builtin.submit(name, 'ssh://x', { sshArgs: ['-o', 'ProxyCommand=touch /tmp/pwned'], unsafeSshArgs: true }),
          ).rejects.toThrow(
            new RegExp(`'${name}' of 'hotpath' is ${name}, which starts processes: it never runs from a queue`),
          );
        }
        const refused = (await queue.getFailed()).filter((job) =>
          ['openGateway', 'startClusterWorker'].includes(job.data.export),
        );
        expect(refused.map((job) => job.attemptsMade)).toEqual([1, 1]);
      } finally {
        await queue.close();
        await builtin.close();
        await worker.close();
      }
    });

    it('close rejects what is still pending', async (ctx) => {
      if (typeof redis === 'string') return ctx.skip();
      const closing = new ClusterExecutor({ connection: url, queue: 'jobs', module: fixtures });
      const pending = closing.submit('whereAfter', 300, 1);
      await closing.close();
      await expect(pending).rejects.toThrow(/was closed before this job finished/);
      await expect(closing.submit('square', 1)).rejects.toThrow(/closed/);
    });
  });
});

describe('Redis authentication', () => {
  let secured: Server | string;
  beforeAll(async () => {
    secured = await startRedis('--requirepass', 's3cret');
  });
  afterAll(async () => {
    if (typeof secured !== 'string') await secured.stop();
  });

  it('passes the URL password to the executor and the worker, and names the server when wrong', async (ctx) => {
    if (typeof secured === 'string') return ctx.skip();
    const good = `redis://:s3cret@127.0.0.1:${secured.port}`;
    const worker = await startWorkerOn(good, 'auth');
    const executor = new ClusterExecutor({ connection: good, queue: 'auth', module: fixtures });
    expect(await executor.submit('square', 11)).toBe(121);
    await executor.close();
    await stopWorker(worker);
    const wrong = new ClusterExecutor({
      connection: `redis://:nope@127.0.0.1:${secured.port}`,
      queue: 'auth',
      module: fixtures,
    });
    await expect(wrong.submit('square', 1)).rejects.toThrow(
      new RegExp(`cannot reach Redis at redis://127\\.0\\.0\\.1:${secured.port}: WRONGPASS`),
    );
    await wrong.close();
  });
});

describe('ClusterExecutor and hotpath worker: bad input and unreachable Redis', () => {
  it('checks its options and arguments', () => {
    expect(() => new ClusterExecutor({} as never)).toThrow(
      /ClusterExecutor: connection must be a redis:\/\/ URL or an ioredis options object, got undefined/,
    );
    expect(() => new ClusterExecutor({ connection: 'http://x', queue: 'q', module: 'm' })).toThrow(RangeError);
    expect(() => new ClusterExecutor({ connection: 'redis://h', queue: '', module: 'm' })).toThrow(
      /queue must be a non-empty string/,
    );
    expect(() => new ClusterExecutor({ connection: 'redis://h', queue: 'q', module: 'm', attempts: 0 })).toThrow(
      RangeError,
    );
  });

  it('rejects an unserializable argument before anything is queued', async () => {
    const executor = new ClusterExecutor({
      connection: 'redis://127.0.0.1:1',
      queue: 'q',
      module: fixtures,
      connectTimeout: 2000,
    });
    expect(() => executor.submit('square', () => 1)).toThrow(/ClusterExecutor.submit: value cannot be serialized/);
    expect(() => executor.map('square', 3 as never)).toThrow(TypeError);
    const started = Date.now();
    await expect(executor.submit('square', 1)).rejects.toThrow(
      /ClusterExecutor: cannot reach Redis at redis:\/\/127\.0\.0\.1:1: connect ECONNREFUSED/,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    await executor.close();
  });

  it('hotpath worker exits with a clear error on unreachable Redis or bad flags', () => {
    const down = runCli(['worker', '--queue', 'q', '--module', fixtures, '--redis', 'redis://127.0.0.1:1']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/hotpath worker: .*cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
    const noQueue = runCli(['worker']);
    expect(noQueue.code).toBe(2);
    expect(noQueue.stderr).toMatch(/--queue is required/);
    expect(runCli(['worker', '--queue', 'q', '--concurrency', '0']).stderr).toMatch(
      /--concurrency must be a positive integer/,
    );
    expect(runCli(['worker', '--help']).stdout).toMatch(/Usage: hotpath worker/);
    const noModule = runCli(['worker', '--queue', 'q']);
    expect(noModule.code).toBe(2);
    expect(noModule.stderr).toMatch(
      /--module is required: name the modules jobs may run \(nothing is allowed by default\)/,
    );
  });
});
