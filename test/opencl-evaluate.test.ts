import { afterAll, beforeAll, describe as suite, expect, it } from 'vitest';
import { evaluate, opencl } from 'hotpath';
import { backends, rng } from './helpers.js';

const skipReason = opencl.available() ? null : opencl.unavailableReason();
if (skipReason) console.warn(`opencl.evaluate tests skipped: ${skipReason}`);

const N = 4099; // not a multiple of any work-group size

function edgeAndRandom(seed: number, scale: number): Float64Array {
  const r = rng(seed);
  const edges = [0, -0, 1, -1, NaN, Infinity, -Infinity, 0.5, 1e-300, -1e300, 3, 2 ** -1074];
  return Float64Array.from({ length: N }, (_, i) => (i < edges.length ? edges[i] : (r() - 0.5) * scale));
}

// Exact operations: the device must agree bit for bit with the CPU (NaN, ±0 and ±Infinity included).
const exactExpressions = [
  '(a + b) - (a * b) / (c - d)',
  '2*a + 3*b - a/7 + a*b + c*d',
  '-a + a**2 + b**3 - b**10 + a**-2',
  'a % b + abs(a) + floor(b) - ceil(c) * trunc(d)',
  'sqrt(abs(a)) + minimum(a, b) - maximum(c, d)',
  'where(a > 0.5, sqrt(a), b**2)',
  '(a < b) + (a <= c) * 2 + (a == a) * 4 + (b != c) * 8 + (c >= d) * 16 + (~(a > 0) | (b < 0) & (c > 0)) * 32',
  'a * 0.1 + k + pi * a + e',
];

suite.skipIf(skipReason !== null)('opencl.evaluate agrees with the CPU evaluate', () => {
  let ctx: opencl.Context;
  let vars: { a: Float64Array; b: Float64Array; c: Float64Array; d: Float64Array; k: number };
  beforeAll(() => {
    ctx = opencl.createContext();
    vars = {
      a: edgeAndRandom(1, 8),
      b: edgeAndRandom(2, 8),
      c: edgeAndRandom(3, 20),
      d: edgeAndRandom(4, 1e6),
      k: 0.3,
    };
  });
  afterAll(() => ctx.release());

  for (const be of backends) {
    it(`is bit-exact for arithmetic and exact functions in float64 and float32 [${be}]`, async () => {
      const f32 = Object.fromEntries(
        Object.entries(vars).map(([k, v]) => [k, typeof v === 'number' ? v : Float32Array.from(v)]),
      );
      for (const expr of exactExpressions) {
        // The same kinds per operation (src/lang/typed.ts): the same result types (Uint8Array for bools,
        // Int32Array for bool arithmetic, Float32Array where every operand is float32) and the same bits.
        const want = evaluate(expr, vars, { backend: be });
        const got = await opencl.evaluate(expr, vars, { context: ctx });
        expect(got, expr).toBeInstanceOf((want as Float64Array).constructor);
        expect(got, expr).toEqual(want);
        const want32 = evaluate(expr, f32 as never, { backend: be });
        const got32 = await opencl.evaluate(expr, f32 as never, { context: ctx });
        // Same promotion rule (float constants and scalars make float32 arrays compute in float64).
        expect(got32, `float32: ${expr}`).toBeInstanceOf((want32 as Float32Array).constructor);
        expect(got32, `float32: ${expr}`).toEqual(want32);
      }
    });
  }

  it('reduces like the CPU: min/max exactly, sums within rounding', async () => {
    const r = rng(21);
    const x = Float64Array.from({ length: 100_001 }, () => r() * 2 - 0.5);
    const y = Float64Array.from({ length: 100_001 }, () => r());
    for (const expr of ['min(x * y)', 'max(x - y)', 'min(x)', 'max(where(x > 1, z, x))']) {
      expect(await opencl.evaluate(expr, { x, y, z: NaN }, { context: ctx }), expr).toEqual(
        evaluate(expr, { x, y, z: NaN }),
      );
    }
    expect(await opencl.evaluate('max(x + z)', { x, z: NaN }, { context: ctx })).toBeNaN();
    for (const expr of ['sum(x * y)', 'mean(x)', 'prod(1 + x / 1e5)']) {
      const want = evaluate(expr, { x, y }) as number;
      const got = (await opencl.evaluate(expr, { x, y }, { context: ctx })) as number;
      expect(Math.abs(got - want), expr).toBeLessThan(1e-9 * Math.max(1, Math.abs(want)));
    }
    expect(await opencl.evaluate('sum(x)', { x: new Float64Array(0) }, { context: ctx })).toBe(0);
    expect(await opencl.evaluate('min(x)', { x: new Float64Array(0) }, { context: ctx })).toBeNaN();
  });

  it('follows the promotion table and takes int arrays, scalars, out and device Buffers', async () => {
    const i32 = Int32Array.from({ length: 1000 }, (_, i) => i * 7919 - 3_000_000);
    const f32 = Float32Array.from({ length: 1000 }, (_, i) => i / 3);
    const mixed = { i: i32, f: f32, s: 2.5 };
    const want = evaluate('i / s + f', mixed);
    expect(want).toBeInstanceOf(Float64Array);
    expect(await opencl.evaluate('i / s + f', mixed, { context: ctx })).toEqual(want);
    expect(await opencl.evaluate('s * 2', { s: 3 }, { context: ctx })).toEqual(new Float64Array([6]));
    const forced = await opencl.evaluate('f * f', { f: f32 }, { context: ctx, precision: 'float64' });
    expect(forced).toEqual(evaluate('f * f', { f: Float64Array.from(f32) }));
    const narrowed = await opencl.evaluate('a * b', vars, { context: ctx, precision: 'float32' });
    expect(narrowed).toEqual(evaluate('a * b', { a: Float32Array.from(vars.a), b: Float32Array.from(vars.b) }));
    const out = new Float32Array(1000);
    expect(await opencl.evaluate('f + 1', { f: f32 }, { context: ctx, out })).toBe(out);
    expect(out).toEqual(evaluate('f + 1', { f: f32 }));
    // Device-resident inputs and output: nothing crosses the bus until the final read.
    const bf = ctx.buffer(f32);
    const bout = ctx.buffer(f32.byteLength, { type: 'float' });
    expect(await opencl.evaluate('f * 3 - 1', { f: bf }, { context: ctx, out: bout })).toBe(bout);
    expect(await bout.read()).toEqual(evaluate('f * 3 - 1', { f: f32 }));
    expect(await opencl.evaluate('sum(f)', { f: bf }, { context: ctx })).toBeCloseTo(
      evaluate('sum(f)', { f: f32 }) as number,
      6,
    );
    expect(await opencl.evaluate('a + 1', { a: new Float64Array(0) }, { context: ctx })).toEqual(new Float64Array(0));
    // The default context of the default device serves calls without { context }.
    expect(await opencl.evaluate('a - a', { a: Float64Array.of(1, 2) })).toEqual(new Float64Array(2));
    bf.release();
    bout.release();
  });

  it('promotes float32 like the CPU evaluate (numexpr 2.8), e and pi variables win, bad options throw', async () => {
    const f32 = Float32Array.from({ length: 1000 }, (_, i) => i / 3);
    for (const expr of ['f * 2', 'f ** 2.0', 'f * 2.0', 'f + pi', 'where(f > 0.1, f, 0)', 'f * s']) {
      const want = evaluate(expr, { f: f32, s: 0.5 });
      const got = await opencl.evaluate(expr, { f: f32, s: 0.5 }, { context: ctx });
      expect(got, expr).toBeInstanceOf((want as Float32Array).constructor);
      expect(got, expr).toEqual(want);
    }
    const n = 1000;
    const full = (v: number) => new Float64Array(n).fill(v);
    const got = (await opencl.evaluate(
      'b*c+d*e',
      { b: full(0.99), c: full(99), d: full(99), e: full(99) },
      { context: ctx },
    )) as Float64Array;
    expect(got[n - 1]).toBe(0.99 * 99 + 99 * 99);
    expect(await opencl.evaluate('pi + e', { pi: 1 }, { context: ctx })).toEqual(new Float64Array([1 + Math.E]));
    await expect(opencl.evaluate('f', { f: f32 }, { context: ctx, casting: 'safe' } as never)).rejects.toThrow(
      new TypeError("opencl.evaluate: unknown option 'casting' (accepted: device, context, precision, out)"),
    );
  });

  it("needs { precision: 'float32' } on a device without fp64, then computes in float32", async () => {
    // pocl has fp64: pose as a device without it (restored below) to take the float32-only paths.
    const device = ctx.device as { fp64: boolean };
    device.fp64 = false;
    try {
      const a = Float64Array.from({ length: 300 }, (_, i) => i / 7 - 20);
      await expect(opencl.evaluate('a * 3 + 1', { a }, { context: ctx })).rejects.toThrow(
        /no float64 support \(cl_khr_fp64\); pass \{ precision: 'float32' \}/,
      );
      // A type the device cannot run is a TypeError (issue 21), as a wrong variable type is.
      await expect(opencl.evaluate('a * 3 + 1', { a }, { context: ctx })).rejects.toBeInstanceOf(TypeError);
      const a32 = Float32Array.from(a);
      expect(await opencl.evaluate('a * 3 + 1', { a }, { context: ctx, precision: 'float32' })).toEqual(
        evaluate('a * 3 + 1', { a: a32 }),
      );
      const sum = (await opencl.evaluate('sum(a)', { a }, { context: ctx, precision: 'float32' })) as number;
      expect(sum).toBeCloseTo(evaluate('sum(a)', { a: a32 }) as number, 2);
      expect(() => new opencl.ElementwiseKernel(ctx, 'double *x', 'x[i] = 0')).toThrow(/has no double precision/);
    } finally {
      device.fp64 = true;
    }
  });

  it("rejects bad input with the CPU evaluate's errors", async () => {
    const a = new Float64Array(4);
    await expect(opencl.evaluate('a + q', { a }, { context: ctx })).rejects.toThrow(
      /unknown variable 'q' \(column 5\)/,
    );
    await expect(opencl.evaluate('a +', { a }, { context: ctx })).rejects.toThrow(/opencl.evaluate: .*column/);
    await expect(opencl.evaluate('sine(a)', { a }, { context: ctx })).rejects.toThrow(/unknown function 'sine'/);
    await expect(opencl.evaluate('a + b', { a, b: new Float64Array(5) }, { context: ctx })).rejects.toThrow(
      /length mismatch: 'a' has 4 elements but 'b' has 5/,
    );
    await expect(opencl.evaluate('a', { a: [1, 2] as never }, { context: ctx })).rejects.toThrow(TypeError);
    await expect(opencl.evaluate('a', { a: new BigUint64Array(2) as never }, { context: ctx })).rejects.toThrow(
      /must be a Float64Array, Float32Array, Int32Array/,
    );
    await expect(opencl.evaluate(3 as never, { a }, { context: ctx })).rejects.toThrow(TypeError);
    await expect(opencl.evaluate('a', null as never, { context: ctx })).rejects.toThrow(TypeError);
    await expect(opencl.evaluate('a', { a }, { context: ctx, precision: 'half' as never })).rejects.toThrow(RangeError);
    await expect(opencl.evaluate('a', { a }, { context: ctx, out: new Float32Array(4) })).rejects.toThrow(
      /out must be a Float64Array/,
    );
    await expect(opencl.evaluate('a', { a }, { context: ctx, out: new Float64Array(3) })).rejects.toThrow(RangeError);
    await expect(opencl.evaluate('sum(a)', { a }, { context: ctx, out: new Float64Array(4) })).rejects.toThrow(
      /reduction/,
    );
    await expect(opencl.evaluate('a', { a }, { device: 'gpu' as never })).rejects.toThrow(TypeError);
    const ulong = ctx.buffer(16, { type: 'ulong' });
    await expect(opencl.evaluate('a', { a: ulong as never }, { context: ctx })).rejects.toThrow(/got a ulong Buffer/);
    ulong.release();
  });
});
