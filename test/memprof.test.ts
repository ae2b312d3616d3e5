import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as hotpath from 'hotpath';
import {
  describeAsync,
  evaluate,
  evaluateAsync,
  nativeMemory,
  nativePath,
  profileMemory,
  type ProfiledError,
} from 'hotpath';
import { backends, repoRoot } from './helpers.js';

const MB = 1e6;
const fixturePath = path.join(__dirname, 'fixtures', 'memprof-alloc.cjs');
const fixture = createRequire(__filename)(fixturePath) as {
  allocateRecords(count: number): number;
  leakRecords(count: number): number;
};
const leaked: Float64Array[] = [];

describe('profileMemory', () => {
  // Other figures move a little while the test runner works in the same process: margins of ~1 MB.
  it('sees a 200 MB Float64Array at its peak and nothing retained once it is freed', async () => {
    const profile = await profileMemory(() => {
      const big = new Float64Array(26_214_400); // 200 MiB, 209.7 MB
      big.fill(1.5);
      return big[big.length - 1];
    });
    expect(profile.result).toBe(1.5);
    expect(profile.peak.arrayBuffers - profile.baseline.arrayBuffers).toBeGreaterThanOrEqual(200 * MB);
    // Every page was written, so the process's resident set grew by about as much.
    expect(profile.peak.rss - profile.baseline.rss).toBeGreaterThanOrEqual(200 * MB);
    expect(profile.delta.arrayBuffers).toBeGreaterThanOrEqual(200 * MB); // not yet collected on return
    expect(Math.abs(profile.retained!.arrayBuffers)).toBeLessThan(1 * MB);
    expect(Math.abs(profile.retained!.heapUsed)).toBeLessThan(5 * MB);
    expect(profile.retained!.rss).toBeLessThan(50 * MB);
  });

  it('shows a leak as retained memory', async () => {
    const profile = await profileMemory(() => {
      leaked.push(new Float64Array(2_500_000).fill(1));
      return fixture.leakRecords(100_000);
    });
    expect(profile.retained!.arrayBuffers).toBeGreaterThanOrEqual(19 * MB);
    expect(profile.retained!.heapUsed).toBeGreaterThan(3 * MB);
  });

  it('samples an async function over time and returns what it resolved to', async () => {
    const profile = await profileMemory(
      async () => {
        const chunks: Float64Array[] = [];
        for (let i = 0; i < 5; i++) {
          chunks.push(new Float64Array(1_250_000).fill(i));
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        return chunks.length;
      },
      { interval: 5, gc: false },
    );
    expect(profile.result).toBe(5);
    expect(profile.retained).toBeNull();
    expect(profile.samples.length).toBeGreaterThanOrEqual(3);
    expect(profile.samples[0].t).toBe(0);
    expect(profile.samples.at(-1)!.t).toBe(profile.durationMs);
    for (let i = 1; i < profile.samples.length; i++)
      expect(profile.samples[i].t).toBeGreaterThanOrEqual(profile.samples[i - 1].t);
    for (const key of ['rss', 'heapUsed', 'heapTotal', 'external', 'arrayBuffers', 'native'] as const) {
      expect(profile.peak[key]).toBe(Math.max(profile.peak[key], ...profile.samples.map((s) => s[key])));
      expect(profile.delta[key]).toBe(profile.samples.at(-1)![key] - profile.baseline[key]);
    }
    expect(profile.peak.arrayBuffers - profile.baseline.arrayBuffers).toBeGreaterThanOrEqual(45 * MB);
  });

  it('rethrows the function’s own error with the profile attached', async () => {
    const thrown = new Error('boom');
    const sync = await profileMemory(() => {
      throw thrown;
    }).catch((e: unknown) => e as ProfiledError);
    expect(sync).toBe(thrown);
    expect(sync.profile.result).toBeUndefined();
    expect(sync.profile.samples.length).toBe(2);
    expect(sync.profile.retained).not.toBeNull();

    const rejected = await profileMemory(
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        throw new RangeError('later');
      },
      { gc: false },
    ).catch((e: unknown) => e as ProfiledError);
    expect(rejected).toBeInstanceOf(RangeError);
    expect(rejected.message).toBe('later');
    expect(rejected.profile.durationMs).toBeGreaterThan(0);

    const primitive = await profileMemory(() => {
      throw 'plain string';
    }).catch((e: unknown) => e as ProfiledError);
    expect(primitive).toBeInstanceOf(Error);
    expect(primitive.cause).toBe('plain string');
    expect(primitive.profile.peak.rss).toBeGreaterThan(0);
  });

  it('reports allocation sites with file, line and column', async () => {
    const profile = await profileMemory(() => fixture.allocateRecords(200_000), {
      sampling: { interval: 4096, top: 5 },
    });
    expect(profile.sites!.length).toBeGreaterThan(0);
    expect(profile.sites!.length).toBeLessThanOrEqual(5);
    const site = profile.sites!.find((s) => s.functionName === 'allocateRecords');
    expect(site, JSON.stringify(profile.sites)).toBeDefined();
    expect(site!.url).toContain('memprof-alloc.cjs');
    const lines = fs.readFileSync(fixturePath, 'utf8').split('\n');
    expect(site!.line).toBe(lines.findIndex((l) => l.startsWith('function allocateRecords')) + 1);
    expect(site!.column).toBeGreaterThan(0);
    expect(site!.bytes).toBeGreaterThan(1 * MB);
    // The profiler's own reads (process.memoryUsage, /proc) are not reported as the caller's.
    const all = await profileMemory(() => fixture.allocateRecords(50_000), { sampling: { interval: 1024, top: 1000 } });
    expect(all.sites!.filter((s) => /dist[\\/]memprof|node:fs/.test(s.url))).toEqual([]);
    const sizes = profile.sites!.map((s) => s.bytes);
    expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
    expect((await profileMemory(() => 1)).sites).toBeNull();
  });

  it('refuses a second sampled profile while one is sampling, and does not keep the process alive', async () => {
    const slow = async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      return fixture.allocateRecords(1000);
    };
    const [first, second] = await Promise.allSettled([
      profileMemory(slow, { sampling: true }),
      profileMemory(slow, { sampling: true }),
    ]);
    expect(first.status).toBe('fulfilled');
    expect(second.status === 'rejected' && String(second.reason)).toMatch(/already sampling allocations/);
    expect((await profileMemory(slow, { sampling: true, gc: false })).sites!.length).toBeGreaterThan(0);
    // A promise that never settles: the sampling timer alone must not hold the process open.
    const script =
      "require('hotpath').profileMemory(() => new Promise(() => {}), { interval: 5 }); setTimeout(() => {}, 50)";
    const child = spawnSync(process.execPath, ['-e', script], { cwd: repoRoot, timeout: 30_000 });
    expect(child.status).toBe(0);
  });

  it('rejects bad arguments with TypeError or RangeError', async () => {
    for (const interval of [0, -5, 0.5, NaN, Infinity]) {
      await expect(profileMemory(() => 1, { interval })).rejects.toThrow(RangeError);
    }
    await expect(profileMemory(() => 1, { interval: -1 })).rejects.toThrow(
      'profileMemory: interval must be a finite number of milliseconds >= 1, got -1',
    );
    await expect(profileMemory(() => 1, { interval: '10ms' as never })).rejects.toThrow(TypeError);
    await expect(profileMemory(() => 1, { gc: 'yes' as never })).rejects.toThrow(
      'profileMemory: gc must be a boolean, got string',
    );
    await expect(profileMemory(() => 1, { sampling: 'on' as never })).rejects.toThrow(TypeError);
    await expect(profileMemory(() => 1, { sampling: { top: 0 } })).rejects.toThrow(RangeError);
    await expect(profileMemory(() => 1, [] as never)).rejects.toThrow(TypeError);
    await expect(profileMemory('fn' as never)).rejects.toThrow('profileMemory: fn must be a function, got string');
  });
});

describe.each(backends)('an expression evaluated over large arrays (%s)', (backend) => {
  const a = new Float64Array(10_000_000).fill(2);
  const b = new Float64Array(10_000_000).fill(3);

  it('shows its 80 MB result in external memory, sync and async, retained as the profile holds it', async () => {
    const sync = await profileMemory(() => evaluate('a * b + 1', { a, b }, { backend }));
    expect((sync.result as Float64Array)[9_999_999]).toBe(7);
    expect(sync.peak.external - sync.baseline.external).toBeGreaterThanOrEqual(79 * MB);
    expect(sync.retained!.external).toBeGreaterThanOrEqual(79 * MB);
    expect(sync.retained!.external).toBeLessThan(81 * MB);
    const async = await profileMemory(() => evaluateAsync('sqrt(a * b)', { a, b }, { backend }), { interval: 2 });
    expect((async.result as Float64Array)[0]).toBe(Math.sqrt(6));
    expect(async.peak.arrayBuffers - async.baseline.arrayBuffers).toBeGreaterThanOrEqual(79 * MB);
  });
});

describe.runIf(hotpath.backend === 'native')('native memory accounting', () => {
  // The addon's test hook for the shared tracked allocator (not public API), loaded like the benches do.
  const addon = () => createRequire(__filename)(nativePath!) as { trackedFloat64Array(length: number): Float64Array };

  it('counts addon allocations, reports them to V8 and releases them on collection', async () => {
    const before = nativeMemory();
    const profile = await profileMemory(() => {
      const result = addon().trackedFloat64Array(12_500_000);
      result.fill(2);
      return result.length;
    });
    expect(profile.result).toBe(12_500_000);
    expect(profile.peak.native - profile.baseline.native).toBe(100 * MB);
    expect(profile.peak.external - profile.baseline.external).toBeGreaterThanOrEqual(99 * MB);
    expect(profile.retained!.native).toBe(0);
    expect(Math.abs(profile.retained!.external)).toBeLessThan(1 * MB);
    expect(nativeMemory()).toBe(before);
  });

  it('catches a native peak between samples and leaves no scratch behind', async () => {
    const before = nativeMemory();
    const held = addon().trackedFloat64Array(1000);
    expect(nativeMemory()).toBe(before + 8000);
    const profile = await profileMemory(() => {
      addon().trackedFloat64Array(1_000_000); // garbage at once, but counted until collected
      return describeAsync(new Float64Array(100_000).fill(3), { threads: 4 });
    });
    expect(profile.result.mean).toBe(3);
    expect(profile.peak.native - profile.baseline.native).toBeGreaterThanOrEqual(8 * MB);
    expect(nativeMemory()).toBe(before + held.byteLength);
  });

  it('validates the tracked allocator’s argument', () => {
    expect(() => addon().trackedFloat64Array(-1)).toThrow(RangeError);
    // Above Node 20's 4 GiB external ArrayBuffer limit: a RangeError, not a double free (found by test/fuzz).
    expect(() => addon().trackedFloat64Array(2 ** 29 + 1)).toThrow(RangeError);
    expect(() => addon().trackedFloat64Array('1' as never)).toThrow(TypeError);
  });
});

describe.runIf(hotpath.backend === 'js')('native memory without the addon', () => {
  it('is zero', async () => {
    expect(nativeMemory()).toBe(0);
    const profile = await profileMemory(() => new Float64Array(1000).fill(1).length);
    expect(profile.peak.native).toBe(0);
    expect(profile.retained!.native).toBe(0);
  });
});
