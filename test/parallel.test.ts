import { afterAll, describe as suite, expect, it } from 'vitest';
import { AbortError, describe, evaluate, parallel, type DescribeResult } from 'hotpath';
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
    for (const [n, threads, offset] of [
      [200_000, 2, 0],
      [300_001, 3, 1e9],
      [70_000, 8, -5],
    ] as const) {
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
      expectSameStats(
        await parallel.describe(view, { backend: be, threads: 2 }),
        describe(source.subarray(1000, 140_000), { backend: be }),
      );
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
      expectSameStats(
        await parallel.describe(withNaN, { backend: be, nan: 'omit', threads: 2 }),
        describe(withNaN, { backend: be, nan: 'omit' }),
      );
      const propagated = await parallel.describe(withNaN, { backend: be, threads: 2 });
      expect(Number.isNaN(propagated.mean)).toBe(true);
      await expect(parallel.describe(withNaN, { backend: be, nan: 'raise', threads: 2 })).rejects.toThrow(RangeError);
    });

    it('rejects bad input with TypeError/RangeError', async () => {
      await expect(parallel.describe('abc' as never, { backend: be })).rejects.toThrow(
        /parallel\.describe: values must be/,
      );
      await expect(parallel.describe([1, 'x'] as never, { backend: be })).rejects.toThrow(
        /values\[1\] must be a number, got string/,
      );
      await expect(parallel.describe([1], { backend: be, threads: 0 })).rejects.toThrow(RangeError);
      await expect(parallel.describe([1], { backend: be, nan: 'skip' as never })).rejects.toThrow(RangeError);
      await expect(parallel.describe([1], { backend: 'gpu' as never })).rejects.toThrow(TypeError);
    });
  });
}

for (const be of backends) {
  suite(`parallel.evaluate [${be}]`, () => {
    const n = 100_003;
    const r = rng(42);
    const a = new Float64Array(n).map(() => r() * 4 - 2);
    const b = new Float32Array(n).map(() => r());
    const k = new Int32Array(n).map(() => Math.floor(r() * 100) - 50);

    it('elementwise results equal evaluate() exactly, with its result type', async () => {
      for (const [expr, vars] of [
        ['a * b + 1', { a, b }],
        ['sqrt(b) * 2 + c', { b, c: 0.5 }],
        ['a * k - 3', { a, k }],
        ['where(a > 0, a, -a)', { a }],
      ] as const) {
        const got = await parallel.evaluate(expr, vars, { backend: be, threads: 3 });
        const want = evaluate(expr, vars, { backend: be }) as Float64Array | Float32Array;
        expect(got.constructor).toBe(want.constructor);
        expect(got).toEqual(want);
      }
    });

    it('reductions combine the slices like one pass (sum, prod, min, max, mean)', async () => {
      for (const expr of ['sum(a * b)', 'prod(1 + a * 1e-6)', 'min(a - b)', 'max(k)', 'mean(a + b)', 'sum(b)']) {
        const got = (await parallel.evaluate(expr, { a, b, k }, { backend: be, threads: 3 })) as number;
        const want = evaluate(expr, { a, b, k }, { backend: be }) as number;
        expect(relClose(got, want, expr === 'sum(b)' ? 1e-5 : 1e-9), `${expr}: ${got} vs ${want}`).toBe(true);
      }
      const withNaN = a.slice();
      withNaN[99_000] = NaN;
      expect(await parallel.evaluate('min(x)', { x: withNaN }, { backend: be, threads: 2 })).toEqual(
        evaluate('min(x)', { x: withNaN }, { backend: be }),
      );
    });

    it('edge cases: SharedArrayBuffer views, length 0 and 1, scalars only', async () => {
      const shared = new Float64Array(new SharedArrayBuffer(a.byteLength));
      shared.set(a);
      const view = shared.subarray(10, 90_010);
      expect(await parallel.evaluate('x * x', { x: view }, { backend: be, threads: 2 })).toEqual(
        evaluate('x * x', { x: a.subarray(10, 90_010) }, { backend: be }),
      );
      for (const x of [new Float64Array(0), Float64Array.of(-3)]) {
        expect(await parallel.evaluate('x + 1', { x }, { backend: be })).toEqual(
          evaluate('x + 1', { x }, { backend: be }),
        );
        expect(await parallel.evaluate('max(x)', { x }, { backend: be })).toEqual(
          evaluate('max(x)', { x }, { backend: be }),
        );
      }
      expect(await parallel.evaluate('p * 2', { p: 4 }, { backend: be })).toEqual(
        evaluate('p * 2', { p: 4 }, { backend: be }),
      );
    });

    it('rejects bad input with evaluate()-style errors', async () => {
      await expect(parallel.evaluate('a +', { a }, { backend: be })).rejects.toMatchObject({ name: 'ExpressionError' });
      await expect(parallel.evaluate('a + zz', { a }, { backend: be })).rejects.toThrow(/unknown variable 'zz'/);
      await expect(parallel.evaluate('a + b', { a, b: b.subarray(1) }, { backend: be })).rejects.toThrow(RangeError);
      await expect(parallel.evaluate('a * 2', { a: [1, 2] as never }, { backend: be })).rejects.toThrow(TypeError);
      await expect(parallel.evaluate('a * 2', null as never, { backend: be })).rejects.toThrow(TypeError);
      await expect(parallel.evaluate('a * 2', { a }, { backend: be, threads: 0 })).rejects.toThrow(RangeError);
    });
  });
}

suite('parallel.describe cancellation', () => {
  it('an aborted signal rejects with an AbortError', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(parallel.describe(randomData(1, 100_000), { signal: controller.signal })).rejects.toBeInstanceOf(
      AbortError,
    );
  });
});
