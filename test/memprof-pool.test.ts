import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Pool, type ProfiledError } from 'hotpath';

const MB = 1e6;
const tasks = path.join(__dirname, 'fixtures', 'memprof-pool-tasks.cjs');

describe('Pool tasks with memory profiling', () => {
  const pool = new Pool({ filename: tasks, maxThreads: 1, memory: true });
  const plain = new Pool({ filename: tasks, maxThreads: 1 });
  afterAll(() => Promise.all([pool.close(), plain.close()]));

  it('loads memory profiling (and with it the addon) in a worker only once a task asks for it', async () => {
    const lazy = new Pool({ filename: tasks, maxThreads: 1 });
    try {
      const before = await lazy.submit<string[]>('loadedHotpathModules');
      expect(before).toContain('pool/worker.js');
      expect(before.filter((file) => file.startsWith('memprof/') || file === 'core/loader.js')).toEqual([]);
      await lazy.submitWith('allocate', [1], { memory: true });
      const after = await lazy.submit<string[]>('loadedHotpathModules');
      expect(after).toEqual(expect.arrayContaining(['memprof/profile.js', 'core/loader.js']));
    } finally {
      await lazy.close();
    }
  });

  it('returns each task’s memory with its result, measured in the worker', async () => {
    const future = pool.submit<number>('allocate', 40);
    expect(await future).toBe(5_000_000);
    const memory = future.memory!;
    // Heap and ArrayBuffer figures are the worker's own isolate; the 40 MB array shows at its peak and is gone after.
    expect(memory.peak.arrayBuffers - memory.baseline.arrayBuffers).toBeGreaterThanOrEqual(39 * MB);
    expect(Math.abs(memory.retained!.arrayBuffers)).toBeLessThan(1 * MB);
    expect(memory.samples.length).toBeGreaterThanOrEqual(2);
    expect('result' in memory).toBe(false);

    const leak = pool.submit<number>('leak', 20);
    await leak;
    expect(leak.memory!.retained!.arrayBuffers).toBeGreaterThanOrEqual(19 * MB);
  });

  it('takes per-task options that override the pool’s, and leaves unprofiled tasks alone', async () => {
    const off = pool.submitWith<number>('allocate', [1], { memory: false });
    await off;
    expect(off.memory).toBeNull();
    const sampled = plain.submitWith<number>('allocate', [10], { memory: { gc: false, sampling: { top: 3 } } });
    await sampled;
    expect(sampled.memory!.retained).toBeNull();
    expect(sampled.memory!.sites!.length).toBeGreaterThan(0);
    expect(sampled.memory!.sites!.length).toBeLessThanOrEqual(3);
    const unprofiled = plain.submit('allocate', 1);
    await unprofiled;
    expect(unprofiled.memory).toBeNull();
    const mapped: number[] = [];
    for await (const value of pool.map<number, number>('allocate', [1, 2])) mapped.push(value);
    expect(mapped).toEqual([125_000, 250_000]);
  });

  it('keeps a failed task’s error and attaches its profile', async () => {
    const future = pool.submit('allocateThenFail', 30);
    const error = (await future.catch((e: unknown) => e)) as ProfiledError;
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe('failed after touching 3750000 doubles');
    expect(error.profile.peak.arrayBuffers - error.profile.baseline.arrayBuffers).toBeGreaterThanOrEqual(29 * MB);
    const { result, ...profile } = error.profile;
    expect(result).toBeUndefined();
    expect(future.memory).toEqual(profile);
  });

  it('rejects bad memory options where the task is submitted', () => {
    expect(() => pool.submitWith('allocate', [1], { memory: { interval: 0 } })).toThrow(
      'Pool.submitWith: memory.interval must be a finite number of milliseconds >= 1, got 0',
    );
    expect(() => pool.submitWith('allocate', [1], { memory: 'yes' as never })).toThrow(TypeError);
    expect(() => new Pool({ filename: tasks, memory: { gc: 1 as never } })).toThrow(
      'Pool: memory.gc must be a boolean, got number',
    );
  });
});
