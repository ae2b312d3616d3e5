import { describe as suite, expect, it } from 'vitest';
import { Moments, describe, describeAsync, backend } from 'hotpath';
import { backends, relClose, rng } from './helpers.js';

// Exact moments of integer data with BigInt rationals: the reference every backend must meet.
function exactDescribe(xs: number[]) {
  const n = BigInt(xs.length);
  let s1 = 0n,
    s2 = 0n,
    s3 = 0n,
    s4 = 0n;
  for (const v of xs) {
    const b = BigInt(v);
    s1 += b;
    s2 += b * b;
    s3 += b * b * b;
    s4 += b * b * b * b;
  }
  const nM2 = n * s2 - s1 * s1; // n * M2
  const n2M3 = n * n * s3 - 3n * n * s1 * s2 + 2n * s1 ** 3n; // n^2 * M3
  const n3M4 = n ** 3n * s4 - 4n * n * n * s1 * s3 + 6n * n * s1 * s1 * s2 - 3n * s1 ** 4n; // n^3 * M4
  const N = xs.length;
  const m2 = Number(nM2) / (N * N); // biased second central moment
  const m3 = Number(n2M3) / N ** 3;
  const m4 = Number(n3M4) / N ** 4;
  return {
    mean: Number(s1) / N,
    variance: Number(nM2) / (N * (N - 1)),
    skewness: m3 / m2 ** 1.5,
    kurtosis: m4 / (m2 * m2) - 3,
  };
}

function integerData(seed: number, n: number, offset: number, spread: number): number[] {
  const r = rng(seed);
  // Skewed (squared uniform) so skewness is far from zero and its relative error is meaningful.
  return Array.from({ length: n }, () => offset + Math.floor(r() * r() * spread));
}

for (const be of backends) {
  suite(`moments [${be}]`, () => {
    for (const [n, offset, spread] of [
      [5, 0, 100],
      [17, -50, 100],
      [2047, 0, 1e6],
      [2048, 1e9, 1000],
      [2049, -3e8, 5e4],
      [10_000, 1e9, 1000],
      [50_001, 12345, 1e5],
    ] as const) {
      it(`matches the exact BigInt reference (n=${n}, offset=${offset})`, () => {
        const xs = integerData(n + offset, n, offset, spread);
        const got = describe(xs, { backend: be });
        const want = exactDescribe(xs);
        expect(got.nobs).toBe(n);
        for (const key of ['mean', 'variance', 'skewness', 'kurtosis'] as const) {
          expect(relClose(got[key], want[key]), `${key}: ${got[key]} vs ${want[key]}`).toBe(true);
        }
        expect(got.min).toBe(Math.min(...xs));
        expect(got.max).toBe(Math.max(...xs));
      });
    }

    it('keeps the variance of 1e9 + small noise', () => {
      const r = rng(7);
      const xs = new Float64Array(100_000).map(() => 1e9 + r());
      const shifted = xs.map((v) => v - 1e9);
      const a = describe(xs, { backend: be });
      const b = describe(shifted, { backend: be });
      expect(relClose(a.variance, b.variance, 1e-6)).toBe(true);
      expect(a.variance).toBeGreaterThan(0.08);
      expect(a.variance).toBeLessThan(0.09);
    });

    it('merge(a, b) equals one pass over a‖b', () => {
      const r = rng(11);
      const a = Float64Array.from({ length: 3001 }, () => r() * 10 - 3);
      const b = Float64Array.from({ length: 777 }, () => r() * r() * 100);
      const merged = new Moments({ backend: be }).pushArray(a).merge(new Moments({ backend: be }).pushArray(b));
      const whole = new Moments({ backend: be }).pushArray(Float64Array.from([...a, ...b]));
      expect(merged.count).toBe(whole.count);
      for (const f of ['mean', 'variance', 'skewness', 'kurtosis'] as const) {
        const x = f === 'mean' ? merged.mean : merged[f]();
        const y = f === 'mean' ? whole.mean : whole[f]();
        expect(relClose(x, y), `${f}: ${x} vs ${y}`).toBe(true);
      }
      expect(merged.min).toBe(whole.min);
      expect(merged.max).toBe(whole.max);
    });

    it('push one at a time agrees with pushArray', () => {
      const r = rng(3);
      const xs = Array.from({ length: 1000 }, () => r() * 2 - 1);
      const one = new Moments({ backend: be });
      for (const x of xs) one.push(x);
      const all = new Moments({ backend: be }).pushArray(xs);
      expect(relClose(one.variance(), all.variance())).toBe(true);
      expect(relClose(one.kurtosis(), all.kurtosis(), 1e-10)).toBe(true);
    });

    it('handles empty input and lengths 1-3', () => {
      const empty = describe([], { backend: be });
      expect(empty.nobs).toBe(0);
      for (const k of ['min', 'max', 'mean', 'variance', 'skewness', 'kurtosis'] as const) expect(empty[k]).toBeNaN();
      const one = describe([4], { backend: be });
      expect([one.nobs, one.mean, one.min, one.max]).toEqual([1, 4, 4, 4]);
      expect(one.variance).toBeNaN();
      expect(new Moments({ backend: be }).pushArray([4]).variance({ ddof: 0 })).toBe(0);
      const two = describe([1, 3], { backend: be });
      expect([two.mean, two.variance, two.skewness, two.kurtosis]).toEqual([2, 2, 0, -2]);
      const three = describe(new Float32Array([1, 2, 4]), { backend: be });
      expect(three.mean).toBeCloseTo(7 / 3, 14);
      expect(three.variance).toBeCloseTo(7 / 3, 14);
      expect(describe([5, 5, 5], { backend: be }).skewness).toBeNaN();
    });

    it('applies the nan policy', () => {
      const xs = [1, 2, NaN, 4, 5];
      const p = describe(xs, { backend: be });
      expect(p.mean).toBeNaN();
      expect(p.min).toBeNaN();
      expect(p.nanCount).toBe(1);
      const o = describe(xs, { backend: be, nan: 'omit' });
      expect(o).toEqual({ ...describe([1, 2, 4, 5], { backend: be }), nanCount: 1 });
      expect(() => describe(xs, { backend: be, nan: 'raise' })).toThrow(RangeError);
      expect(() => describe(xs, { backend: be, nan: 'raise' })).toThrow(/index 2/);
      const big = new Float64Array(5000).fill(1);
      big[4321] = NaN;
      expect(() => describe(big, { backend: be, nan: 'raise' })).toThrow(/index 4321/);
      expect(() => new Moments({ nan: 'raise', backend: be }).push(NaN)).toThrow(RangeError);
    });

    it('follows IEEE rules for ±Inf', () => {
      const d = describe([1, Infinity, 3], { backend: be });
      expect(d.max).toBe(Infinity);
      expect(d.mean).toBe(Infinity);
      expect(d.variance).toBeNaN();
      expect(describe([-Infinity, 1], { backend: be }).min).toBe(-Infinity);
    });

    it('reads Float32Array and unaligned subarray views', () => {
      const r = rng(21);
      const base = Float64Array.from({ length: 4099 }, () => r() * 1000);
      for (const off of [1, 3, 5]) {
        const view = base.subarray(off, base.length - 2);
        const copy = Float64Array.from(view);
        expect(describe(view, { backend: be })).toEqual(describe(copy, { backend: be }));
      }
      const f32 = Float32Array.from(base).subarray(1);
      const widened = Float64Array.from(f32);
      expect(describe(f32, { backend: be })).toEqual(describe(widened, { backend: be }));
      expect(describe(new Int32Array([1, 2, 3]), { backend: be }).mean).toBe(2);
    });

    it('round-trips through toJSON / fromJSON (also via JSON text)', () => {
      const m = new Moments({ backend: be }).pushArray([1, 2, 3, 10]);
      const back = Moments.fromJSON(JSON.parse(JSON.stringify(m)));
      expect(back.toJSON()).toEqual(m.toJSON());
      const empty = Moments.fromJSON(JSON.parse(JSON.stringify(new Moments())));
      expect(empty.count).toBe(0);
      expect(empty.merge(m).toJSON()).toEqual(m.toJSON());
    });

    it('describeAsync and pushArrayAsync agree with the sync path', async () => {
      const r = rng(5);
      const xs = Float64Array.from({ length: 100_003 }, () => r() * r() * 50);
      const sync = describe(xs, { backend: be });
      for (const threads of [1, 2, 3, 8]) {
        const got = await describeAsync(xs, { backend: be, threads });
        for (const k of ['mean', 'variance', 'skewness', 'kurtosis'] as const)
          expect(relClose(got[k], sync[k])).toBe(true);
        expect(got.nobs).toBe(sync.nobs);
      }
      const bad = Float64Array.from(xs);
      bad[99_000] = NaN;
      await expect(describeAsync(bad, { backend: be, nan: 'raise', threads: 2 })).rejects.toThrow(/index 99000/);
      await expect(describeAsync(bad, { backend: be, nan: 'raise' })).rejects.toBeInstanceOf(RangeError);
      await expect(describeAsync([], { backend: be })).resolves.toMatchObject({ nobs: 0 });
    });

    it('rejects bad input with precise errors', () => {
      expect(() => describe('abc' as never, { backend: be })).toThrow(TypeError);
      expect(() => describe([1, '2'] as never, { backend: be })).toThrow(/values\[1\] must be a number, got string/);
      expect(() => describe(new BigInt64Array(2) as never, { backend: be })).toThrow(TypeError);
      const m = new Moments({ backend: be }).pushArray([1, 2, 3]);
      expect(() => m.variance({ ddof: -1 })).toThrow(RangeError);
      expect(() => m.variance({ ddof: 0.5 })).toThrow(RangeError);
      expect(() => m.variance({ ddof: '1' as never })).toThrow(TypeError);
      expect(() => m.skewness({ bias: 1 as never })).toThrow(TypeError);
      expect(() => m.push('1' as never)).toThrow(TypeError);
      expect(() => new Moments({ nan: 'drop' as never })).toThrow(RangeError);
      expect(() => new Moments({ backend: 'gpu' as never })).toThrow(TypeError);
      expect(() => m.merge({ count: 1 } as never)).toThrow(/field 'shift'/);
    });
  });
}

suite('moments: native and pure-TS agree', () => {
  it.runIf(backend === 'native')('gives bit-identical partials on random data', () => {
    for (let seed = 1; seed <= 25; seed++) {
      const r = rng(seed);
      const n = Math.floor(r() * 9000);
      const scale = 10 ** Math.floor(r() * 20 - 10);
      const xs = Float64Array.from({ length: n }, () => (r() - 0.3) * scale);
      if (seed % 5 === 0 && n > 0) xs[Math.floor(r() * n)] = NaN;
      for (const nan of ['propagate', 'omit'] as const) {
        const a = new Moments({ backend: 'native', nan }).pushArray(xs).toJSON();
        const b = new Moments({ backend: 'js', nan }).pushArray(xs).toJSON();
        expect(a).toEqual(b);
      }
      const f32 = Float32Array.from(xs);
      expect(new Moments({ backend: 'native' }).pushArray(f32).toJSON()).toEqual(
        new Moments({ backend: 'js' }).pushArray(f32).toJSON(),
      );
    }
  });

  it('reports the live backend', () => {
    expect(backends).toContain(backend);
    if (process.env.HOTPATH_BACKEND === 'js') expect(backend).toBe('js');
    if (process.env.HOTPATH_BACKEND === 'native') expect(backend).toBe('native');
  });
});
