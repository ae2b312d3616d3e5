// opencl.evaluate over n-d inputs (issue 21): `{ data, shape, strides?, offset? }` objects with NumPy
// broadcasting, strided/reversed/zero-stride views, device Buffers as data, and `axis=` reductions. The CPU
// `evaluate` (itself checked against nested-loop references in expr-ndarray.test.ts) is the reference: the
// device must return the same shapes and, for exact operations, the same bits.
import { afterAll, beforeAll, describe as suite, expect, it } from 'vitest';
import { evaluate, opencl, type NdArray } from 'hotpath';
import { rng } from './helpers.js';

const skipReason = opencl.available() ? null : opencl.unavailableReason();
if (skipReason) console.warn(`opencl.evaluate n-d tests skipped: ${skipReason}`);

type Random = () => number;
type Data = Float64Array | Float32Array | Int32Array;

/** Extents 0..5, 1 more often than the rest (the broadcasting case). */
function randomShape(random: Random, ndim: number): number[] {
  return Array.from({ length: ndim }, () => {
    const r = random();
    return r < 0.05 ? 0 : r < 0.3 ? 1 : 2 + Math.floor(random() * 4);
  });
}

/** A shape broadcasting to `shape`: leading dimensions dropped, others set to 1 at random. */
function broadcastTo(random: Random, shape: number[]): number[] {
  const drop = Math.floor(random() * (shape.length + 1));
  return shape.slice(drop).map((extent) => (random() < 0.3 ? 1 : extent));
}

/**
 * A view of `shape` with strides drawn from -3..3 (0 included: a repeated element), over data just large
 * enough for them, with random padding before the first element read.
 */
function randomView<T extends Data>(random: Random, shape: number[], Ctor: new (n: number) => T): NdArray<T> {
  const strides = shape.map(() => Math.floor(random() * 7) - 3);
  let low = 0;
  let high = 0;
  shape.forEach((extent, d) => {
    const span = (Math.max(extent, 1) - 1) * strides[d];
    if (span < 0) low += span;
    else high += span;
  });
  const pad = Math.floor(random() * 3);
  const data = new Ctor(pad + high - low + 1 + Math.floor(random() * 3));
  for (let k = 0; k < data.length; k++) data[k] = Math.round((random() - 0.5) * 64) / 4;
  return { data, shape, strides, offset: pad - low };
}

interface NdOut {
  data: Float64Array | Float32Array;
  shape: number[];
  strides: number[];
  offset: number;
}

suite.skipIf(skipReason !== null)('opencl.evaluate over n-d inputs agrees with the CPU evaluate', () => {
  let ctx: opencl.Context;
  beforeAll(() => {
    ctx = opencl.createContext();
  });
  afterAll(() => ctx.release());

  // Few distinct kernels (each is a compile on pocl): the layouts vary, the expressions and types less.
  it('broadcasts random strided, reversed and zero-stride views bit for bit (32 seeds, 3 element types)', async () => {
    const types = [Float64Array, Float32Array, Int32Array] as const;
    for (let seed = 1; seed <= 32; seed++) {
      const random = rng(seed);
      const shape = randomShape(random, Math.floor(random() * 5));
      const vars = {
        a: randomView(random, broadcastTo(random, shape), types[seed % 3]),
        b: randomView(random, broadcastTo(random, shape), Float64Array),
        c: random() < 0.5 ? randomView(random, broadcastTo(random, shape), Float64Array) : 1.25,
      };
      const expressions = seed % 4 === 0 ? ['a*b + c - 2', 'where(a > b, a - c, b / (c + 0.5))'] : ['a*b + c - 2'];
      for (const expr of expressions) {
        const want = evaluate(expr, vars as never) as NdOut;
        const got = (await opencl.evaluate(expr, vars as never, { context: ctx })) as NdOut;
        expect(got.shape, `seed ${seed}: ${expr}`).toEqual(want.shape);
        expect(got.strides).toEqual(want.strides);
        expect(got.offset).toBe(0);
        expect(got.data, `seed ${seed}: ${expr}`).toEqual(want.data);
      }
    }
  });

  it('reduces along random axes like the CPU, bit for bit (12 seeds, every reduction)', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const random = rng(100 + seed);
      const shape = randomShape(random, 1 + Math.floor(random() * 4));
      const vars = {
        a: randomView(random, broadcastTo(random, shape), Float64Array),
        b: randomView(random, shape, Float64Array),
      };
      for (const reduction of ['sum', 'prod', 'min', 'max', 'mean']) {
        const axis = Math.floor(random() * shape.length * 2) - shape.length;
        const expr = `${reduction}(a * b + 1, axis=${axis})`;
        // Lines are folded in index order with float64 accumulators on both: the same bits.
        const want = evaluate(expr, vars);
        expect(await opencl.evaluate(expr, vars, { context: ctx }), `seed ${seed}: ${expr} over ${shape}`).toEqual(
          want,
        );
      }
      // A full reduction over an n-d input is a number, within the tree-order rounding of the device.
      const sum = (await opencl.evaluate('sum(a * b + 1)', vars, { context: ctx })) as number;
      const wanted = evaluate('sum(a * b + 1)', vars) as number;
      expect(Math.abs(sum - wanted)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(wanted)));
      expect(await opencl.evaluate('max(a * b + 1)', vars, { context: ctx })).toEqual(evaluate('max(a * b + 1)', vars));
    }
  });

  it('broadcasts (n,1) with (1,m), flat arrays and scalars, and writes into a flat out', async () => {
    const column = { data: Float64Array.from([1, 2, 3]), shape: [3, 1] };
    const row = { data: Float64Array.from([10, 20, 30, 40]), shape: [1, 4] };
    const got = (await opencl.evaluate('a + b', { a: column, b: row }, { context: ctx })) as NdOut;
    expect(got).toEqual({
      data: Float64Array.from([11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43]),
      shape: [3, 4],
      strides: [4, 1],
      offset: 0,
    });
    const out = new Float64Array(12);
    const written = (await opencl.evaluate('a * b', { a: column, b: row.data }, { context: ctx, out })) as NdOut;
    expect(written.data).toBe(out);
    expect(written.shape).toEqual([3, 4]);
    expect(out).toEqual((evaluate('a * b', { a: column, b: row.data }) as NdOut).data);
    // A 0-d input and a scalar: a 0-d result.
    expect(
      await opencl.evaluate('s * 2 + k', { s: { data: Float64Array.of(7), shape: [] }, k: 1 }, { context: ctx }),
    ).toEqual({ data: Float64Array.of(15), shape: [], strides: [], offset: 0 });
    // Flat inputs and an axis: the 1-d shape reduces to a number, as on the CPU.
    expect(await opencl.evaluate('sum(a, axis=0)', { a: row.data }, { context: ctx })).toBe(100);
    expect(await opencl.evaluate('min(a, axis=-1)', { a: new Float64Array(0) }, { context: ctx })).toBeNaN();
  });

  it('reads a column of a wide matrix, a reversed view and device Buffers with a layout', async () => {
    const wide = Float64Array.from({ length: 1000 * 64 }, (_, k) => (k % 997) - 400);
    const column = { data: wide, shape: [1000, 1], strides: [64, 1], offset: 5 };
    const reversed = { data: Float64Array.from({ length: 64 }, (_, k) => k), shape: [64], strides: [-1], offset: 63 };
    const vars = { a: column, b: reversed };
    const want = evaluate('a * b - 1', vars) as NdOut;
    expect(want.shape).toEqual([1000, 64]);
    expect(await opencl.evaluate('a * b - 1', vars, { context: ctx })).toEqual(want);
    // The same with the data already on the device: only the layout (a few longs) is uploaded.
    const onDevice = { a: { ...column, data: ctx.buffer(wide) }, b: { ...reversed, data: ctx.buffer(reversed.data) } };
    const target = ctx.buffer(want.data.byteLength, { type: 'double' });
    try {
      const got = (await opencl.evaluate('a * b - 1', onDevice, { context: ctx, out: target })) as {
        data: opencl.Buffer;
        shape: number[];
      };
      expect(got.data).toBe(target);
      expect(got.shape).toEqual([1000, 64]);
      expect(await target.read(new Float64Array(want.data.length))).toEqual(want.data);
      expect(await opencl.evaluate('max(a, axis=0)', onDevice, { context: ctx })).toEqual(
        evaluate('max(a, axis=0)', vars),
      );
    } finally {
      target.release();
      onDevice.a.data.release();
      onDevice.b.data.release();
    }
  });

  it("rejects bad shapes with the CPU evaluate's errors", async () => {
    const a = { data: new Float64Array(6), shape: [2, 3] };
    const b = { data: new Float64Array(8), shape: [2, 4] };
    const message = "opencl.evaluate: shapes (2,3) ('a') and (2,4) ('b') cannot broadcast";
    await expect(opencl.evaluate('a + b', { a, b }, { context: ctx })).rejects.toThrow(new RangeError(message));
    expect(() => evaluate('a + b', { a, b })).toThrow(message.replace('opencl.evaluate', 'evaluate'));
    await expect(
      opencl.evaluate('a', { a: { data: new Float64Array(5), shape: [2, 3] } }, { context: ctx }),
    ).rejects.toThrow("variable 'a' (shape (2,3), strides (3,1), offset 0) reads elements 0..5 but its data has 5");
    await expect(
      opencl.evaluate('a', { a: { data: new Float64Array(6), shape: [2, 3], strides: [1] } }, { context: ctx }),
    ).rejects.toThrow(RangeError);
    await expect(
      opencl.evaluate('a', { a: { data: new Float64Array(6), shape: [2, -3] } }, { context: ctx }),
    ).rejects.toThrow(/shape\[1\] must be an integer >= 0/);
    await expect(
      opencl.evaluate('a', { a: { data: new Float64Array(6), shape: [6], offset: 1.5 } }, { context: ctx }),
    ).rejects.toThrow(RangeError);
    await expect(
      opencl.evaluate('a', { a: { data: new BigUint64Array(6), shape: [6] } } as never, { context: ctx }),
    ).rejects.toThrow(
      new TypeError(
        "opencl.evaluate: variable 'a'.data must be a Float64Array, Float32Array, Int32Array, Int16Array, Int8Array, " +
          'Uint32Array, Uint16Array, Uint8Array, Uint8ClampedArray, BigInt64Array, a Buffer, { data: Uint8Array or ' +
          "uchar Buffer, dtype: 'bool' }, got BigUint64Array",
      ),
    );
    await expect(opencl.evaluate('sum(a, axis=2)', { a }, { context: ctx })).rejects.toThrow(
      new RangeError('opencl.evaluate: axis 2 is out of bounds for a result of shape (2,3) (2 dimensions)'),
    );
    await expect(opencl.evaluate('sum(a, axis=0)', { a }, { context: ctx, out: new Float64Array(3) })).rejects.toThrow(
      /out cannot be used with the reduction 'sum'/,
    );
    await expect(opencl.evaluate('a * 2', { a }, { context: ctx, out: new Float64Array(5) })).rejects.toThrow(
      /out has 5 elements, expected 6/,
    );
    // As the CPU evaluate: an int64 operand of an axis reduction would be rounded by float64 accumulation.
    const big = { data: BigInt64Array.from([2n ** 60n + 1n, 1n, 1n, 1n]), shape: [2, 2] };
    await expect(opencl.evaluate('sum(a, axis=0)', { a: big }, { context: ctx })).rejects.toThrow(
      new TypeError(
        'opencl.evaluate: the operand of sum(..., axis=0) must be a float, int32 or bool value (axis= reductions ' +
          'compute in float64), got int64',
      ),
    );
  });
});
