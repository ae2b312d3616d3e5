// ClusterExecutor when Redis comes back without the queue's data (issue 23, item 1): restarted without
// persistence, or failed over to an empty replica. Every awaited future must settle — rejected with a
// LostJobError, or resubmitted under resubmitLost — instead of waiting forever.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ClusterExecutor, LostJobError } from 'hotpath';
import { repoRoot } from './helpers.js';
import { fixtures, startRedis, startRedisOnPort, type Server } from './distributed-servers.js';

const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');
const servers: Server[] = [];
const workers: ChildProcess[] = [];

afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await Promise.all(servers.map((s) => s.stop()));
});

async function redisOrSkip(ctx: { skip(): void }): Promise<Server> {
  const server = await startRedis();
  if (typeof server === 'string') {
    ctx.skip();
    throw new Error(server);
  }
  servers.push(server);
  return server;
}

function startWorker(url: string, queue: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [cli, 'worker', '--redis', url, '--queue', queue, '--module', fixtures, '--lock-duration', '1000'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  workers.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('serving queue')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited with code ${code}: ${output}`)));
  });
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('ClusterExecutor: jobs lost with Redis data', () => {
  it('rejects every awaited future with LostJobError when Redis loses the queue (FLUSHALL)', async (ctx) => {
    const redis = await redisOrSkip(ctx);
    const url = `redis://127.0.0.1:${redis.port}`;
    const executor = new ClusterExecutor({ connection: url, queue: 'lost', module: fixtures, lostJobCheck: 200 });
    try {
      // No worker: the jobs wait in the queue until Redis forgets them.
      const futures = range(60).map((x) => executor.submit('square', x));
      const admin = new Redis(redis.port, '127.0.0.1');
      for (let i = 0; i < 50 && (await admin.keys('bull:lost:*')).length < 60; i++)
        await new Promise((r) => setTimeout(r, 50));
      const started = Date.now();
      await admin.flushall();
      await admin.quit();
      const settled = await Promise.allSettled(futures);
      expect(Date.now() - started).toBeLessThan(5000);
      for (const s of settled) {
        expect(s.status).toBe('rejected');
        const error = (s as PromiseRejectedResult).reason as LostJobError;
        expect(error).toBeInstanceOf(LostJobError);
        expect(error.code).toBe('HOTPATH_JOB_LOST');
        expect(error.message).toMatch(/^queue lost: job [0-9a-f-]+ no longer exists in Redis/);
      }
      expect(executor.stats()).toMatchObject({ submitted: 60, lost: 60, completed: 0, resubmitted: 0 });
    } finally {
      await executor.close();
    }
  });

  it('resubmits lost jobs (resubmitLost) after Redis restarts empty; every result arrives once', async (ctx) => {
    let redis = await redisOrSkip(ctx);
    const { port } = redis;
    const url = `redis://127.0.0.1:${port}`;
    const executor = new ClusterExecutor({
      connection: url,
      queue: 'again',
      module: fixtures,
      lostJobCheck: 200,
      resubmitLost: true,
      backoff: 10,
    });
    try {
      const futures = range(30).map((x) => executor.submit<number>('square', x));
      const admin = new Redis(port, '127.0.0.1');
      for (let i = 0; i < 50 && (await admin.keys('bull:again:*')).length < 30; i++)
        await new Promise((r) => setTimeout(r, 50));
      await admin.quit();
      // A restart without persistence: the server dies, a new empty one takes its port.
      await redis.stop();
      servers.splice(servers.indexOf(redis), 1);
      const restarted = await startRedisOnPort(port);
      if (typeof restarted === 'string') throw new Error(restarted);
      redis = restarted;
      servers.push(redis);
      await startWorker(url, 'again');
      const results = await Promise.race([
        Promise.all(futures),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('futures did not settle within 20 s')), 20_000),
        ),
      ]);
      expect(results).toEqual(range(30).map((x) => x * x));
      expect(executor.stats().lost).toBe(30);
      expect(executor.stats().resubmitted).toBe(30);
      expect(executor.stats().completed).toBe(30);
    } finally {
      await executor.close();
    }
  });

  it('checks its new options', () => {
    expect(
      () => new ClusterExecutor({ connection: 'redis://127.0.0.1:1', queue: 'q', module: 'm', lostJobCheck: -1 }),
    ).toThrow(RangeError);
    expect(
      () =>
        new ClusterExecutor({
          connection: 'redis://127.0.0.1:1',
          queue: 'q',
          module: 'm',
          resubmitLost: 'yes' as never,
        }),
    ).toThrow(TypeError);
  });
});
