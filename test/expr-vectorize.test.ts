import { describe as suite, expect, it } from 'vitest';
import { ExpressionError, vectorize } from 'hotpath';
import { backends, rng } from './helpers.js';

function randomArray(seed: number, n: number): Float64Array {
  const r = rng(seed);
  return Float64Array.from({ length: n }, () => r() * 6 - 3);
}

// Functions inside the subset, run over arrays and compared with calling the function per element.
const SUPPORTED: ((x: number, y: number) => number)[] = [
  (x, y) => Math.sqrt(x * x + y * y),
  (x, y) => (x > y ? x - y : Math.sin(y) * 2),
  (x, y) => {
    const s = x + y; // locals are inlined and shared
    const t = Math.max(x, y, 0.5) ** 2;
    return s > 1 && !(t < 2) ? s / t : -Math.PI;
  },
  (x, y) => Math.pow(Math.abs(x), 3) - Math.atan2(y, x) + Math.hypot(x, 2) + (Math.min(x, y) % 0.7),
  (x, y) => (x === y || x !== -y ? Math.exp(-x * x) : Math.LN2 * Math.E),
  (x) => Math.floor(x) + Math.ceil(-x) + Math.trunc(x * 1.5) + Math.cbrt(x) + Math.log1p(Math.abs(x)),
];

for (const be of backends) {
  suite(`vectorize [${be}]`, () => {
    it('runs supported functions like the original, element by element', () => {
      for (const n of [0, 1, 1025, 9000]) {
        const x = randomArray(n + 1, n);
        const y = randomArray(n + 2, n);
        x[0] = y[0] ?? 0; // exercise === on equal values
        for (const fn of SUPPORTED) {
          const args = fn.length === 1 ? [x] : [x, y];
          const got = vectorize(fn)(...args, { backend: be }) as Float64Array;
          expect(got).toBeInstanceOf(Float64Array);
          for (let i = 0; i < n; i++) {
            const want = fn(x[i], y[i]);
            expect(
              Math.abs(got[i] - want) <= 1e-12 * Math.max(1, Math.abs(want)),
              `${fn}[${i}]: ${got[i]} vs ${want}`,
            ).toBe(true);
          }
        }
      }
    });

    it('broadcasts scalars, computes float32 in float32 and writes into out', async () => {
      const hyp = vectorize((x, y) => Math.sqrt(x * x + y * y));
      expect(hyp.params).toEqual(['x', 'y']);
      const x = Float32Array.from(randomArray(5, 3000));
      const y = new Float32Array(3000).fill(4);
      const got = hyp(x, y, { backend: be });
      expect(got).toBeInstanceOf(Float32Array);
      const f = Math.fround;
      expect(got).toEqual(x.map((v) => f(Math.sqrt(f(f(v * v) + 16)))));
      const out = new Float32Array(3000);
      expect(await hyp.async(x, y, { backend: be, out })).toBe(out);
      expect(out).toEqual(got);
      // A scalar argument is a float64 variable (numexpr 2.8: a Python float or int promotes float32).
      const mixed = hyp(x, 4, { backend: be });
      expect(mixed).toBeInstanceOf(Float64Array);
      // Each operation has its kind, as in numexpr: x * x stays float32, + 4 (float64) widens it.
      expect(mixed).toEqual(Float64Array.from(x, (v) => Math.sqrt(Math.fround(v * v) + 16)));
      // Float literals promote too, integer literals do not: the same rule as evaluate's. (The test
      // uses 2.5: transpilers such as esbuild print `2.0` as `2`, and vectorize reads the source text.)
      expect(vectorize((v) => v * 2.5)(x, { backend: be })).toBeInstanceOf(Float64Array);
      expect(vectorize((v) => v * 2)(x, { backend: be })).toBeInstanceOf(Float32Array);
    });

    it('computes integer, int64 and bool arguments in their kinds, as evaluate does (issue 18)', () => {
      const n = 5000;
      const multiplyAdd = vectorize((x, y) => x * y + 1);
      const i = Int32Array.from({ length: n }, (_, k) => (k % 3 === 0 ? 2147483647 : k));
      expect(multiplyAdd(i, 2, { backend: be })).toEqual(Float64Array.from(i, (v) => v * 2 + 1)); // a number is float64
      expect(multiplyAdd(i, i, { backend: be })).toEqual(Int32Array.from(i, (v) => Math.imul(v, v) + 1));
      const l = BigInt64Array.from(i, (v) => BigInt(v) * 3n);
      expect(multiplyAdd(l, 5n, { backend: be })).toEqual(BigInt64Array.from(l, (v) => v * 5n + 1n));
      const clamp = vectorize((x) => (x > 1 && x < 10 ? x : 0));
      expect(clamp(i, { backend: be })).toEqual(Int32Array.from(i, (v) => (v > 1 && v < 10 ? v : 0)));
    });

    it('lets parameters named e or pi win over the constants, and rejects unknown options', () => {
      const n = 5000;
      const full = (v: number) => new Float64Array(n).fill(v);
      const fma = vectorize((b, c, d, e) => b * c + d * e);
      expect((fma(full(0.99), full(99), full(99), full(99), { backend: be }) as Float64Array)[n - 1]).toBe(
        0.99 * 99 + 99 * 99,
      );
      expect(vectorize((pi) => pi * 2)(3, { backend: be })).toEqual(new Float64Array([6]));
      expect(() => fma(1, 2, 3, 4, { backend: be, casting: 'no' } as never)).toThrow(
        new TypeError("vectorized function: unknown option 'casting' (accepted: out, threads, blockSize, backend)"),
      );
    });
  });
}

suite('vectorize errors', () => {
  const k = 3;
  // [function, message, the source text the caret must point at]
  const cases: [(...args: number[]) => number, string, string][] = [
    [(x) => x * k, "closures over outer variables are not supported ('k')", 'k'],
    [
      function named(x: number) {
        return x;
      },
      'only arrow functions are supported',
      'function',
    ],
    [
      (x) => {
        let y = x;
        y += 1;
        return y;
      },
      "'let' declarations are not supported; use const",
      'let',
    ],
    [(x) => x & 1, 'bitwise operators are not supported', '&'],
    [(x) => Math.random() * x, 'Math.random is not supported', 'random'],
    [(x) => Number(x), "calling 'Number' is not supported (only Math.* functions)", 'Number'],
    [
      (x) => {
        if (x > 0) return 1;
        return 2;
      },
      "'if' statements are not supported",
      'if',
    ],
    [(x, y = 2) => x + y, 'default parameter values are not supported', '='],
  ];
  it('names the construct and its column, with a caret line', () => {
    for (const [fn, problem, at] of cases) {
      // The test runner may reformat sources, so the column is located in the text vectorize sees.
      const source = fn.toString();
      const offset = source.indexOf(at);
      const column = offset - source.lastIndexOf('\n', offset);
      try {
        vectorize(fn);
        expect.fail(`${fn} should be rejected`);
      } catch (error) {
        expect(error).toBeInstanceOf(ExpressionError);
        const e = error as ExpressionError;
        expect(e.message).toContain(`vectorize: ${problem}`);
        expect(e.column).toBe(column);
        expect(e.message.split('\n')[2].indexOf('^')).toBe(column + 1);
      }
    }
  });

  it('reports the line in multi-line bodies and checks the call', () => {
    const fn = (x: number) => {
      const y = x * 2;
      return y ** k;
    };
    const lines = fn.toString().split('\n');
    const line = lines.findIndex((l) => l.includes('**'));
    const column = lines[line].indexOf('k') + 1;
    expect(() => vectorize(fn)).toThrow(
      `closures over outer variables are not supported ('k') (line ${line + 1}, column ${column})`,
    );
    expect(() => vectorize(3 as never)).toThrow(TypeError);
    const twice = vectorize((x) => 2 * x);
    expect(() => twice(new Float64Array(2), new Float64Array(2))).toThrow(
      new TypeError('vectorized function: expected 1 argument (x) and optional options, got 2'),
    );
    expect(() => twice([1, 2] as never)).toThrow(TypeError);
  });
});
