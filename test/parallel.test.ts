import { afterAll, describe as suite, expect, it } from 'vitest';
import { AbortError, describe, parallel, type DescribeResult } from 'hotpath';
import { backends, relClose, rng } from './helpers.js';

afterAll(() => parallel.close());

function expectSameStats(got: DescribeResult, want: DescribeResult) {
  expect(got.nobs).toBe(want.nobs);
  expect(got.nanCount).toBe(want.nanCount);
  expect([got.min, got.max]).toEqual([want.min, want.max]);
  for (const key of ['mean', 'variance', 'skewness', 'kurtosis'] as const) {
    expect(relClose(got[key], want[key], 1e-10), `${key}: ${got[key]} vs ${want[key]}`).toBe(true);
  }
}

function randomData(seed: number, n: number, offset = 0): Float64Array {
  const r = rng(seed);
  return new Float64Array(n).map(() => offset + r() * r() * 100);
}

for (const be of backends) {
  suite(`parallel.describe [${be}]`, () => {
    for (const [n, threads, offset] of [[200_000, 2, 0], [300_001, 3, 1e9], [70_000, 8, -5]] as const) {
      it(`matches describe() (n=${n}, threads=${threads}, offset=${offset})`, async () => {
        const x = randomData(n + threads, n, offset);
        expectSameStats(await parallel.describe(x, { backend: be, threads }), describe(x, { backend: be }));
      });
    }

    it('reads a SharedArrayBuffer-backed subarray view in place, Float32Array too', async () => {
      const source = randomData(5, 150_000);
      const shared = new Float64Array(new SharedArrayBuffer(source.byteLength));
      shared.set(source);
      const view = shared.subarray(1000, 140_000);
      expectSameStats(await parallel.describe(view, { backend: be, threads: 2 }), describe(source.subarray(1000, 140_000), { backend: be }));
      const f32 = Float32Array.from(source);
      expectSameStats(await parallel.describe(f32, { backend: be, threads: 2 }), describe(f32, { backend: be }));
    });

    it('handles empty, length 1, NaN policies and ±Inf like describe()', async () => {
      for (const values of [[], [3.5], [1, 2, Infinity], [-Infinity, 0, 1]]) {
        expect(await parallel.describe(values, { backend: be })).toEqual(describe(values, { backend: be }));
      }
      const withNaN = randomData(9, 100_000);
      withNaN[77_777] = NaN;
      withNaN[5] = NaN;
      expectSameStats(await parallel.describe(withNaN, { backend: be, nan: 'omit', threads: 2 }), describe(withNaN, { backend: be, nan: 'omit' }));
      const propagated = await parallel.describe(withNaN, { backend: be, threads: 2 });
      expect(Number.isNaN(propagated.mean)).toBe(true);
      await expect(parallel.describe(withNaN, { backend: be, nan: 'raise', threads: 2 })).rejects.toThrow(RangeError);
    });

    it('rejects bad input with TypeError/RangeError', async () => {
      await expect(parallel.describe('abc' as never, { backend: be })).rejects.toThrow(/parallel\.describe: values must be/);
      await expect(parallel.describe([1, 'x'] as never, { backend: be })).rejects.toThrow(/values\[1\] must be a number, got string/);
      await expect(parallel.describe([1], { backend: be, threads: 0 })).rejects.toThrow(RangeError);
      await expect(parallel.describe([1], { backend: be, nan: 'skip' as never })).rejects.toThrow(RangeError);
      await expect(parallel.describe([1], { backend: 'gpu' as never })).rejects.toThrow(TypeError);
    });
  });
}

suite('parallel.describe cancellation', () => {
  it('an aborted signal rejects with an AbortError', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(parallel.describe(randomData(1, 100_000), { signal: controller.signal })).rejects.toBeInstanceOf(AbortError);
  });
});
