// A function written once runs on CPU threads or an OpenCL device: vectorize(fn, { target: 'opencl' })
// and compile(expr).runOpenCL(...) run the tree the CPU path parsed as a generated kernel, with the
// same answers (bit for bit on exact operations), and compute in float32 by default on devices
// without fp64 (where opencl.evaluate asks for { precision: 'float32' }).
import { afterAll, beforeAll, describe as suite, expect, it } from 'vitest';
import { compile, ExpressionError, opencl, vectorize } from 'hotpath';
import { rng } from './helpers.js';

const skipReason = opencl.available() ? null : opencl.unavailableReason();
if (skipReason) console.warn(`OpenCL vectorize tests skipped: ${skipReason}`);

const N = 3001; // not a multiple of any work-group size

function random(seed: number): Float64Array {
  const r = rng(seed);
  const edges = [0, -0, 1, -1, NaN, Infinity, -Infinity, 0.5];
  return Float64Array.from({ length: N }, (_, i) => (i < edges.length ? edges[i] : (r() - 0.5) * 20));
}

function expectSameBits(actual: ArrayLike<number>, expected: ArrayLike<number>) {
  expect(actual.length).toBe(expected.length);
  const differing = Array.from(actual).findIndex((v, i) => !Object.is(v, expected[i]));
  expect(differing, `first difference at ${differing}: ${actual[differing]} vs ${expected[differing]}`).toBe(-1);
}

suite.skipIf(skipReason !== null)('vectorize(fn, { target: "opencl" }) and compile(expr).runOpenCL', () => {
  let a: Float64Array;
  let b: Float64Array;
  let ctx: opencl.Context;
  beforeAll(() => {
    a = random(1);
    b = random(2);
    ctx = opencl.createContext();
  });
  afterAll(() => ctx.release());

  const exact = (x: number, y: number) => {
    const s = x * y - x / (y - 3);
    return x > y ? s * 2 : Math.sqrt(Math.abs(s)) + Math.min(x, y);
  };

  it('a vectorized function gives the CPU answers bit for bit, in float64 and float32', async () => {
    const cpu = vectorize(exact);
    const device = vectorize(exact, { target: 'opencl' });
    expect(device.params).toEqual(['x', 'y']);
    const result = await device(a, b);
    expect(result).toBeInstanceOf(Float64Array);
    expectSameBits(result as Float64Array, cpu(a, b) as Float64Array);
    const a32 = Float32Array.from(a);
    const b32 = Float32Array.from(b);
    const result32 = await device(a32, b32, { context: ctx });
    expect(result32).toBeInstanceOf(Float32Array);
    expectSameBits(result32 as Float32Array, cpu(a32, b32) as Float32Array);
    // The program behind it runs the same function on the CPU.
    expectSameBits(device.program.run({ x: a, y: b }) as Float64Array, cpu(a, b) as Float64Array);
  });

  it('scalars, Buffers on the device and an out Buffer, with nothing copied back', async () => {
    const device = vectorize((x: number, k: number) => x * k + 1, { target: 'opencl' });
    const x = ctx.buffer(a);
    const out = ctx.buffer(a.byteLength, { type: 'double' });
    expect(await device(x, 2.5, { context: ctx, out })).toBe(out);
    expectSameBits(await out.read(), vectorize((x: number, k: number) => x * k + 1)(a, 2.5) as Float64Array);
    x.release();
    out.release();
  });

  it('transcendental functions stay close to the CPU', async () => {
    const fn = (x: number, y: number) => Math.sin(x) * Math.exp(-Math.abs(y)) + Math.atan2(x, y);
    const cpu = vectorize(fn)(a, b) as Float64Array;
    const device = (await vectorize(fn, { target: 'opencl' })(a, b)) as Float64Array;
    device.forEach((v, i) => {
      if (Number.isNaN(cpu[i])) expect(v).toBeNaN();
      else expect(Math.abs(v - cpu[i])).toBeLessThanOrEqual(1e-13 * Math.max(1, Math.abs(cpu[i])));
    });
  });

  it('compile(expr).runOpenCL matches program.run, reductions included', async () => {
    const program = compile('where(a > b, a * b, a - b) + b / 4');
    expectSameBits((await program.runOpenCL({ a, b })) as Float64Array, program.run({ a, b }) as Float64Array);
    const finite = a.map((v) => (Number.isFinite(v) ? v : 0));
    const sum = compile('sum(a * 2)');
    expect(await sum.runOpenCL({ a: finite }, { context: ctx })).toBeCloseTo(sum.run({ a: finite }) as number, 9);
  });

  it('computes in float32 by default on a device without fp64, where opencl.evaluate refuses', async () => {
    const device = ctx.device as { fp64: boolean };
    const fp64 = device.fp64;
    device.fp64 = false; // what an fp64-less GPU reports; the kernels it builds are float-only
    try {
      const result = await vectorize(exact, { target: 'opencl' })(a, b, { context: ctx });
      expect(result).toBeInstanceOf(Float32Array);
      const a32 = Float32Array.from(a);
      const b32 = Float32Array.from(b);
      expectSameBits(result as Float32Array, vectorize(exact)(a32, b32) as Float32Array);
      expect(await compile('a * b').runOpenCL({ a, b }, { context: ctx })).toBeInstanceOf(Float32Array);
      await expect(compile('a * b').runOpenCL({ a, b }, { context: ctx, precision: 'float64' })).rejects.toThrow(
        /has no float64 support/,
      );
      await expect(opencl.evaluate('a * b', { a, b }, { context: ctx })).rejects.toThrow(/has no float64 support/);
    } finally {
      device.fp64 = fp64;
    }
  });

  it('rejects bad options and arguments with messages naming the caller', async () => {
    expect(() => vectorize(exact, { target: 'gpu' as 'opencl' })).toThrow(RangeError);
    expect(() => vectorize(exact, { target: 'gpu' as 'opencl' })).toThrow(
      /vectorize: target must be one of 'cpu', 'opencl', got 'gpu'/,
    );
    expect(() => vectorize(exact, { device: 1 } as never)).toThrow(TypeError);
    expect(() => vectorize((x: number) => x++, { target: 'opencl' })).toThrow(ExpressionError);
    const device = vectorize(exact, { target: 'opencl' });
    expect(() => device(a)).toThrow(/vectorized function: expected 2 arguments \(x, y\)/);
    await expect(device(a, b, { bogus: true } as never)).rejects.toThrow(
      /vectorized function.runOpenCL: unknown option 'bogus'/,
    );
    await expect(device(a, new Float64Array(3))).rejects.toThrow(RangeError);
    await expect(compile('a + b').runOpenCL({ a, b }, { precision: 'half' as 'float32' })).rejects.toThrow(
      /Program.runOpenCL: precision must be one of/,
    );
    await expect(compile('a + q').runOpenCL({ a, b })).rejects.toThrow(ExpressionError);
    await expect(opencl.evaluate('a', { a }, { ctx } as never)).rejects.toThrow(
      /opencl.evaluate: unknown option 'ctx' \(accepted: device, context, precision, out\)/,
    );
  });
});
