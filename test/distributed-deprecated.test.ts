// The distributed options renamed by issue 14's vocabulary (docs/conventions.md) keep working under their old
// names for one minor version: `Group` `maxAttempts` and `ClusterExecutor` `attempts` (runs in all) became
// `retries` (extra runs). Each old name behaves as before, warns once per process with its 'HOTPATH_DEP_*' code,
// and cannot be combined with the new one. Its own file: the once-per-process warning must not have fired yet.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ClusterExecutor, Group, startClusterWorker, type GroupOptions } from 'hotpath';
import { fixtures, startRedis, type Server } from './distributed-servers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-deprecated-'));
let marker = 0;
const freshMarker = () => path.join(tmp, `marker-${marker++}`);

/** The DeprecationWarnings emitted while `body` runs. */
async function deprecations(body: () => Promise<void>): Promise<{ message: string; code: string }[]> {
  const seen: { message: string; code: string }[] = [];
  const spy = vi.spyOn(process, 'emitWarning').mockImplementation(((message: string, options: { code: string }) => {
    seen.push({ message, code: options.code });
  }) as never);
  try {
    await body();
  } finally {
    spy.mockRestore();
  }
  return seen;
}

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('Group maxAttempts (deprecated) = retries + 1', () => {
  it('runs a task maxAttempts times in all, as retries: maxAttempts - 1 does; warns once', async () => {
    const warnings = await deprecations(async () => {
      const cases: [GroupOptions, number][] = [
        [{ maxAttempts: 1 }, 1],
        [{ retries: 0 }, 1],
        [{ maxAttempts: 2 }, 2],
        [{ retries: 1 }, 2],
      ];
      for (const [options, runs] of cases) {
        // exitAlways kills every gateway it runs on: runs in all = gateways lost.
        const group = await Group.open(['spawn', 'spawn', 'spawn'], options);
        try {
          await expect(group.submit(fixtures, 'exitAlways')).rejects.toThrow(/exited with code 7/);
          expect(group.stats()).toMatchObject({ alive: 3 - runs, reruns: runs - 1, failed: 1 });
        } finally {
          await group.close();
        }
      }
    });
    expect(warnings).toEqual([
      {
        code: 'HOTPATH_DEP_GROUP_MAX_ATTEMPTS',
        message: 'Group.open: option maxAttempts is deprecated, use retries (retries = maxAttempts - 1)',
      },
    ]);
  });

  it('is checked as before, and not together with retries', async () => {
    await expect(Group.open(['spawn'], { maxAttempts: 0 })).rejects.toThrow(
      new RangeError('Group.open: maxAttempts must be an integer >= 1, got 0'),
    );
    await expect(Group.open(['spawn'], { retries: -1 })).rejects.toThrow(
      new RangeError('Group.open: retries must be an integer >= 0, got -1'),
    );
    await expect(Group.open(['spawn'], { retries: 2, maxAttempts: 3 })).rejects.toThrow(
      new TypeError('Group.open: options retries and maxAttempts (its deprecated name) are both set'),
    );
  });
});

describe('ClusterExecutor attempts (deprecated) = retries + 1', () => {
  let redis: Server | string;
  let url = '';
  let worker: Awaited<ReturnType<typeof startClusterWorker>> | undefined;
  beforeAll(async () => {
    redis = await startRedis();
    if (typeof redis === 'string') return console.warn(`skipping: ${redis}`);
    url = `redis://127.0.0.1:${redis.port}`;
    worker = await startClusterWorker({ connection: url, queue: 'dep', modules: [fixtures], concurrency: 2 });
  });
  afterAll(async () => {
    await worker?.close();
    if (typeof redis !== 'string') await redis.stop();
  });

  it('runs a job attempts times in all, as retries: attempts - 1 does; warns once', async (ctx) => {
    if (typeof redis === 'string') return ctx.skip();
    const warnings = await deprecations(async () => {
      for (const [options, succeeds] of [
        [{ attempts: 1 }, false],
        [{ retries: 0 }, false],
        [{ attempts: 2 }, true],
        [{ retries: 1 }, true],
        [{}, true],
      ] as const) {
        const executor = new ClusterExecutor({
          connection: url,
          queue: 'dep',
          module: fixtures,
          backoff: 10,
          ...options,
        });
        try {
          const job = executor.submit('failOnce', freshMarker(), 'ok');
          if (succeeds) expect(await job).toBe('ok');
          else await expect(job).rejects.toThrow(/first attempt fails/);
        } finally {
          await executor.close();
        }
      }
      await new ClusterExecutor({ connection: url, queue: 'dep', module: fixtures, attempts: 5 }).close();
    });
    expect(warnings).toEqual([
      {
        code: 'HOTPATH_DEP_CLUSTER_ATTEMPTS',
        message: 'ClusterExecutor: option attempts is deprecated, use retries (retries = attempts - 1)',
      },
    ]);
  });

  it('is checked as before, and not together with retries', () => {
    const base = { connection: 'redis://127.0.0.1:1', queue: 'dep', module: fixtures };
    expect(() => new ClusterExecutor({ ...base, attempts: 0 })).toThrow(
      new RangeError('ClusterExecutor: attempts must be an integer >= 1, got 0'),
    );
    expect(() => new ClusterExecutor({ ...base, retries: 1.5 })).toThrow(
      new RangeError('ClusterExecutor: retries must be an integer >= 0, got 1.5'),
    );
    expect(() => new ClusterExecutor({ ...base, retries: 1, attempts: 2 })).toThrow(
      new TypeError('ClusterExecutor: options retries and attempts (its deprecated name) are both set'),
    );
  });
});
