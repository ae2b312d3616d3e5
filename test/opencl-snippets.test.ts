import { afterAll, beforeAll, describe as suite, expect, it } from 'vitest';
import { opencl } from 'hotpath';
import { rng } from './helpers.js';

const skipReason = opencl.available() ? null : opencl.unavailableReason();
if (skipReason) console.warn(`OpenCL snippet-kernel tests skipped: ${skipReason}`);

suite.skipIf(skipReason !== null)('opencl ElementwiseKernel and ReductionKernel', () => {
  let ctx: opencl.Context;
  beforeAll(() => {
    ctx = opencl.createContext();
  });
  afterAll(() => ctx.release());

  it('runs an operation per index over every length, bit-exact in float32', async () => {
    const axpb = new opencl.ElementwiseKernel(
      ctx,
      'float a, const float *x, float b, float *y',
      'y[i] = a * x[i] + b',
      {
        name: 'axpb',
        preamble: '#pragma OPENCL FP_CONTRACT OFF', // a*x + b must not become fma() to match JS
      },
    );
    expect(axpb.parameters.map((p) => `${p.type}${p.pointer ? '*' : ''} ${p.name}`)).toEqual([
      'float a',
      'float* x',
      'float b',
      'float* y',
    ]);
    const r = rng(5);
    for (const n of [1, 2, 255, 4097, 100_003]) {
      const x = Float32Array.from({ length: n }, () => r() * 10 - 5);
      const bx = ctx.buffer(x);
      const by = ctx.buffer(n * 4, { type: 'float' });
      await axpb.run([1.5, bx, -0.25, by]);
      const want = x.map((v) => Math.fround(Math.fround(1.5 * v) - 0.25));
      expect(await by.read(), `n=${n}`).toEqual(want);
      bx.release();
      by.release();
    }
    // release() while runs are in flight (one still building) frees the kernels only after them.
    const bx = ctx.buffer(Float32Array.of(1, 2, 3));
    const pending = [axpb.run([2, bx, 0, bx]), axpb.run([2, bx, 0, bx])];
    axpb.release();
    await Promise.all(pending);
    expect(Array.from(await bx.read())).toEqual([4, 8, 12]);
    bx.release();
    const again = ctx.buffer(Float32Array.of(2));
    await axpb.run([2, again, 1, again]); // released kernels are rebuilt on the next run
    expect(Array.from(await again.read())).toEqual([5]);
    axpb.release();
    again.release();
  });

  it('honours n, double and integer types, and writes nothing for n = 0', async () => {
    expect(ctx.device.fp64).toBe(true); // pocl's CPU device; other devices would take the error path below
    const square = new opencl.ElementwiseKernel(ctx, 'const double *x, double *y, int k', 'y[i] = x[i] * x[i] + k');
    const x = Float64Array.from([1.5, -2, 1e154, NaN, Infinity, 3]);
    const bx = ctx.buffer(x);
    const by = ctx.buffer(new Float64Array(6).fill(7));
    await square.run([bx, by, 2], { n: 0 });
    expect(Array.from(await by.read())).toEqual([7, 7, 7, 7, 7, 7]);
    await square.run([bx, by, 2], { n: 5 });
    expect(Array.from(await by.read())).toEqual([4.25, 6, 1e308 + 2, NaN, Infinity, 7]);
    const counter = new opencl.ElementwiseKernel(ctx, 'uint *c, uint start', 'c[i] = start + (uint)i');
    const bc = ctx.buffer(new Uint32Array(10));
    await counter.run([bc, 4294967290]);
    expect(Array.from(await bc.read())).toEqual(Array.from({ length: 10 }, (_, i) => (4294967290 + i) % 2 ** 32));
    for (const b of [bx, by, bc]) b.release();
  });

  it('rejects bad arguments before anything is enqueued', async () => {
    const k = new opencl.ElementwiseKernel(ctx, 'const float *x, float *y, float s', 'y[i] = s * x[i]');
    const x = ctx.buffer(new Float32Array(10));
    const y = ctx.buffer(new Float32Array(9));
    await expect(k.run([x, y, 1])).rejects.toThrow(
      /Buffer 'y' holds 9 float elements, fewer than the global size n = 10/,
    );
    await expect(k.run([x, y, 1], { n: 11 })).rejects.toThrow(RangeError);
    await expect(k.run([x, y])).rejects.toThrow(/expected 3 arguments \(x, y, s\), got 2/);
    await expect(k.run([x, 1, 1] as never)).rejects.toThrow(/argument 'y' must be a Buffer, got number/);
    await expect(k.run([x, y, x] as never)).rejects.toThrow(/argument 's' must be a scalar/);
    await expect(k.run([x, y, 1], { n: -1 })).rejects.toThrow(RangeError);
    await expect(k.run(x as never)).rejects.toThrow(TypeError);
    await k.run([x, y, 1], { n: 9 });
    expect(() => new opencl.ElementwiseKernel(ctx, 'float x y', 'x')).toThrow(/cannot parse argument 0 'float x y'/);
    expect(() => new opencl.ElementwiseKernel(ctx, 'float4 *v', 'v[i] = 0')).toThrow(/must point to a scalar type/);
    expect(() => new opencl.ElementwiseKernel(ctx, 'float *x, float *x', 'x[i] = 0')).toThrow(/used twice/);
    expect(() => new opencl.ElementwiseKernel(ctx, 'float *n', 'n[i] = 0')).toThrow(/'i' and 'n'/);
    expect(() => new opencl.ElementwiseKernel(ctx, 'float *x', 'x[i] = 0', { name: 'no spaces' })).toThrow(TypeError);
    const broken = new opencl.ElementwiseKernel(ctx, 'float *x', 'x[i] = nope');
    await expect(broken.build()).rejects.toBeInstanceOf(opencl.BuildError);
    await expect(broken.run([x])).rejects.toThrow(/nope/);
    x.release();
    y.release();
  });

  it('reduces exactly with integer sums, min and max', async () => {
    const r = rng(9);
    const sum = new opencl.ReductionKernel(ctx, {
      type: 'long',
      neutral: '0',
      reduce: 'a + b',
      map: '(long)x[i]',
      arguments: 'const int *x',
    });
    const max = new opencl.ReductionKernel(ctx, {
      type: 'int',
      neutral: 'INT_MIN',
      reduce: 'max(a, b)',
      map: 'x[i]',
      arguments: 'const int *x',
    });
    for (const n of [1, 3, 256, 257, 65_537, 300_001]) {
      const x = Int32Array.from({ length: n }, () => Math.floor(r() * 2 ** 32) - 2 ** 31);
      const bx = ctx.buffer(x);
      expect(await sum.run([bx]), `n=${n}`).toBe(x.reduce((acc, v) => acc + BigInt(v), 0n));
      expect(await max.run([bx]), `n=${n}`).toBe(x.reduce((acc, v) => Math.max(acc, v), -(2 ** 31)));
      expect(await max.run([bx], { n: 0 })).toBe(-(2 ** 31));
      bx.release();
    }
  });

  it('computes a float64 dot product within rounding of the sequential sum', async () => {
    const dot = new opencl.ReductionKernel(ctx, {
      type: 'double',
      neutral: '0',
      reduce: 'a + b',
      map: 'x[i] * y[i]',
      arguments: 'const double *x, const double *y',
      name: 'dot',
    });
    const r = rng(13);
    const n = 200_000;
    const x = Float64Array.from({ length: n }, () => r() - 0.5);
    const y = Float64Array.from({ length: n }, () => r() - 0.5);
    let want = 0;
    let magnitude = 0;
    for (let i = 0; i < n; i++) {
      want += x[i] * y[i];
      magnitude += Math.abs(x[i] * y[i]);
    }
    const got = (await dot.run([ctx.buffer(x), ctx.buffer(y)])) as number;
    expect(Math.abs(got - want)).toBeLessThan(magnitude * n * 2 ** -53);
    await expect(dot.run([ctx.buffer(x), ctx.buffer(new Float64Array(5))])).rejects.toThrow(RangeError);
    expect(
      () =>
        new opencl.ReductionKernel(ctx, {
          type: 'half' as never,
          neutral: '0',
          reduce: 'a+b',
          map: 'x[i]',
          arguments: 'float *x',
        }),
    ).toThrow(TypeError);
    expect(
      () =>
        new opencl.ReductionKernel(ctx, {
          type: 'float',
          neutral: 0 as never,
          reduce: 'a+b',
          map: 'x[i]',
          arguments: 'float *x',
        }),
    ).toThrow(/neutral must be a string/);
  });
});
