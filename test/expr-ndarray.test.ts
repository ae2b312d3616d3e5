// n-dimensional inputs for evaluate (issue 18, "Shapes"): `{ data, shape, strides?, offset? }` objects (scijs
// ndarray / @stdlib/ndarray layout), NumPy broadcasting, strided and reversed views, `axis=` reductions and
// their errors. Every result is compared with a reference computed here by nested loops over indices,
// reading each element as data[offset + Σ index·stride] — nothing is computed by the code under test.
import { createRequire } from 'node:module';
import { describe as suite, expect, it } from 'vitest';
import {
  ExpressionError,
  compile,
  evaluate,
  evaluateAsync,
  evaluateMany,
  nativePath,
  opencl,
  type NdArray,
} from 'hotpath';
import { backends, relClose, rng } from './helpers.js';

type Random = () => number;

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Every index of `shape` in C order. */
function* indices(shape: readonly number[]): Generator<number[]> {
  if (sizeOf(shape) === 0) return;
  const index = shape.map(() => 0);
  for (;;) {
    yield [...index];
    let d = shape.length - 1;
    for (; d >= 0; d--) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

/** The element a (broadcast) view holds at `index` of the result shape. */
function at(view: Required<NdArray>, index: readonly number[]): number {
  const lead = index.length - view.shape.length;
  let position = view.offset;
  view.shape.forEach((extent, d) => {
    if (extent !== 1) position += index[d + lead] * view.strides[d];
  });
  return view.data[position];
}

/**
 * A view of `shape` over a larger random buffer: each dimension stepped by 1 or 2, reversed or not,
 * dimensions laid out in memory in a random order (transposes), padding before and after.
 */
function randomView(random: Random, shape: number[], layout: 'c' | 'any'): Required<NdArray<Float64Array>> {
  const ndim = shape.length;
  const steps = shape.map(() => (layout === 'c' ? 1 : 1 + Math.floor(random() * 2)));
  const reversed = shape.map(() => layout !== 'c' && random() < 0.4);
  const order = [...shape.keys()];
  if (layout !== 'c') order.sort(() => random() - 0.5);
  const memory = new Array<number>(ndim);
  let running = 1;
  for (let k = ndim - 1; k >= 0; k--) {
    const d = order[k];
    memory[d] = running;
    running *= Math.max(1, shape[d] * steps[d]);
  }
  const pad = layout === 'c' ? 0 : Math.floor(random() * 3);
  const data = Float64Array.from({ length: pad + running + pad }, () => Math.round((random() - 0.5) * 2000) / 8);
  let offset = pad;
  const strides = shape.map((extent, d) => {
    const stride = steps[d] * memory[d];
    if (!reversed[d]) return stride;
    offset += Math.max(0, extent - 1) * stride;
    return -stride;
  });
  return { data, shape, strides, offset };
}

function randomShape(random: Random, ndim: number): number[] {
  return Array.from({ length: ndim }, () => {
    const r = random();
    return r < 0.1 ? 0 : r < 0.3 ? 1 : 2 + Math.floor(random() * 4);
  });
}

/** A shape that broadcasts to `shape`: some leading dimensions dropped, some others set to 1. */
function broadcastable(random: Random, shape: number[]): number[] {
  const dropped = Math.floor(random() * (shape.length + 1));
  return shape.slice(dropped).map((extent) => (random() < 0.3 ? 1 : extent));
}

function cStrides(shape: readonly number[]): number[] {
  let step = 1;
  return shape
    .map((_, k) => shape.length - 1 - k)
    .map((d) => {
      const s = step;
      step *= shape[d];
      return s;
    })
    .reverse();
}

interface NdOut {
  data: Float64Array | Float32Array;
  shape: number[];
  strides: number[];
  offset: number;
}

function expectNd(result: unknown, shape: number[], expected: number[]): void {
  const nd = result as NdOut;
  expect(nd.shape).toEqual(shape);
  expect(nd.strides).toEqual(cStrides(shape));
  expect(nd.offset).toBe(0);
  expect(Array.from(nd.data)).toEqual(expected);
}

const elementwise = (a: number, b: number, c: number) => a * b + c - 2;

function reduceReference(reduction: string, values: number[]): number {
  let acc = { sum: 0, mean: 0, prod: 1, min: Infinity, max: -Infinity }[reduction]!;
  for (const v of values) {
    if (reduction === 'sum' || reduction === 'mean') acc += v;
    else if (reduction === 'prod') acc *= v;
    else if (Number.isNaN(acc)) continue;
    else if (Number.isNaN(v) || (reduction === 'min' ? v < acc : v > acc)) acc = v;
  }
  if (reduction === 'mean') return acc / values.length;
  if ((reduction === 'min' || reduction === 'max') && values.length === 0) return NaN;
  return acc;
}

for (const backend of backends) {
  suite(`evaluate over n-d arrays (${backend})`, () => {
    for (let seed = 1; seed <= 60; seed++) {
      it(`broadcasts strided, transposed and reversed views like NumPy (seed ${seed})`, () => {
        const random = rng(seed);
        const shape = randomShape(random, Math.floor(random() * 5));
        const views = [0, 1, 2].map(() =>
          randomView(random, broadcastable(random, shape), seed % 3 === 0 ? 'c' : 'any'),
        );
        // The broadcast shape may be smaller than `shape` when every input dropped or collapsed a dimension.
        const ndim = Math.max(...views.map((v) => v.shape.length));
        const expectedShape = Array.from({ length: ndim }, (_, d) =>
          Math.max(...views.map((v) => v.shape[v.shape.length - ndim + d] ?? 1)),
        );
        const zeroed = expectedShape.map((extent, d) =>
          views.some((v) => v.shape[v.shape.length - ndim + d] === 0) ? 0 : extent,
        );
        const expected = [...indices(zeroed)].map((index) =>
          elementwise(at(views[0], index), at(views[1], index), at(views[2], index)),
        );
        const result = evaluate('a*b + c - 2', { a: views[0], b: views[1], c: views[2] }, { backend });
        expectNd(result, zeroed, expected);
      });
    }

    it('broadcasts (n,1) with (1,m), trailing dimensions, scalars and flat arrays', () => {
      const column = { data: Float64Array.from([1, 2, 3]), shape: [3, 1] };
      const row = { data: Float64Array.from([10, 20, 30, 40]), shape: [1, 4] };
      expectNd(
        evaluate('a + b', { a: column, b: row }, { backend }),
        [3, 4],
        [11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43],
      );
      const matrix = { data: Float64Array.from({ length: 6 }, (_, k) => k), shape: [2, 3] };
      const flat = Float64Array.from([100, 200, 300]);
      expectNd(evaluate('a + b * 2', { a: matrix, b: flat }, { backend }), [2, 3], [200, 401, 602, 203, 404, 605]);
      const scalar = { data: Float64Array.from([7]), shape: [] };
      expectNd(evaluate('a - s + k', { a: matrix, s: scalar, k: 1 }, { backend }), [2, 3], [-6, -5, -4, -3, -2, -1]);
      expectNd(evaluate('s * 2', { s: scalar }, { backend }), [], [14]);
    });

    it('reads integer and float32 data, scijs `stride` and getter-based (@stdlib-style) objects', () => {
      const ints = { data: Int16Array.from([1, -2, 3, -4]), shape: [2, 2], stride: [1, 2] };
      expectNd(evaluate('a * 3', { a: ints }, { backend }), [2, 2], [3, 9, -6, -12]);
      class StdlibLike {
        get data() {
          return Float32Array.from([1.5, 2.5, 3.5]);
        }
        get shape() {
          return [3];
        }
        get strides() {
          return [-1];
        }
        get offset() {
          return 2;
        }
      }
      const result = evaluate('a * 2', { a: new StdlibLike() as unknown as NdArray }, { backend }) as NdOut;
      expect(result.data).toBeInstanceOf(Float32Array);
      expectNd(result, [3], [7, 5, 3]);
    });

    it('keeps flat typed arrays flat, and writes n-d results into a flat `out`', () => {
      const a = Float64Array.from([1, 2, 3]);
      expect(evaluate('a * 2', { a }, { backend })).toEqual(Float64Array.from([2, 4, 6]));
      const out = new Float64Array(4);
      const result = evaluate(
        'a * b',
        { a: { data: a, shape: [2, 1], offset: 1 }, b: Float64Array.from([1, 10]) },
        { backend, out },
      ) as NdOut;
      expect(result.data).toBe(out);
      expectNd(result, [2, 2], [2, 20, 3, 30]);
    });

    it('evaluateMany broadcasts once for every output, axis reductions included', () => {
      const a = { data: Float64Array.from([1, 2, 3, 4, 5, 6]), shape: [2, 3] };
      const b = { data: Float64Array.from([1, 10]), shape: [2, 1] };
      const results = evaluateMany(
        { product: 'a * b', rows: 'sum(a * b, axis=-1)', total: 'max(a * b)' },
        { a, b },
        { backend },
      );
      expectNd(results.product, [2, 3], [1, 2, 3, 40, 50, 60]);
      expectNd(results.rows, [2], [6, 150]);
      expect(results.total).toBe(60);
    });

    it('compile().run and evaluateAsync take n-d inputs', async () => {
      const a = { data: Float64Array.from([1, 2, 3, 4]), shape: [2, 2], strides: [1, 2] };
      expectNd(compile('a + 1').run({ a }, { backend }), [2, 2], [2, 4, 3, 5]);
      expectNd(await evaluateAsync('a + 1', { a }, { backend }), [2, 2], [2, 4, 3, 5]);
      expectNd(await evaluateAsync('sum(a, axis=0)', { a }, { backend }), [2], [3, 7]);
    });

    for (let seed = 1; seed <= 40; seed++) {
      it(`reduces along an axis, negative axes included (seed ${seed})`, () => {
        const random = rng(1000 + seed);
        const ndim = 1 + Math.floor(random() * 4);
        const shape = randomShape(random, ndim);
        const a = randomView(random, shape, 'any');
        const b = randomView(random, broadcastable(random, shape), 'any');
        const axis = Math.floor(random() * ndim) - (random() < 0.5 ? ndim : 0);
        const reduction = ['sum', 'prod', 'min', 'max', 'mean'][seed % 5];
        const result = evaluate(`${reduction}(a*b, axis=${axis})`, { a, b }, { backend });
        const positive = axis < 0 ? axis + ndim : axis;
        const outShape = shape.filter((_, d) => d !== positive);
        const expected = [...indices(outShape)].map((outIndex) => {
          const values: number[] = [];
          for (let l = 0; l < shape[positive]; l++) {
            const index = [...outIndex.slice(0, positive), l, ...outIndex.slice(positive)];
            values.push(at(a, index) * at(b, index));
          }
          return reduceReference(reduction, values);
        });
        if (outShape.length === 0) expect(result).toBe(expected[0]);
        else expectNd(result, outShape, expected);
      });
    }

    // Past 65536 elements, broadcasting, strided inputs and axis reductions run in chunks of dimension-0 slices
    // (the last one partial here: 37 slices of 3000 elements, 21 per chunk).
    it('gives the same results on large arrays run in chunks', () => {
      const random = rng(77);
      const shape = [37, 3, 1000];
      const a = randomView(random, shape, 'any');
      const b = randomView(random, [3, 1], 'any');
      const c = randomView(random, [1000], 'any');
      const all = [...indices(shape)];
      expectNd(
        evaluate('a*b + c - 2', { a, b, c }, { backend }),
        shape,
        all.map((index) => elementwise(at(a, index), at(b, index), at(c, index))),
      );
      for (const [reduction, axis] of [
        ['sum', 2],
        ['max', -2],
        ['mean', 1],
        ['min', 0],
      ] as const) {
        const positive = axis < 0 ? axis + 3 : axis;
        const outShape = shape.filter((_, d) => d !== positive);
        const expected = [...indices(outShape)].map((outIndex) => {
          const values: number[] = [];
          for (let l = 0; l < shape[positive]; l++) {
            const index = [...outIndex.slice(0, positive), l, ...outIndex.slice(positive)];
            values.push(at(a, index) * at(b, index));
          }
          return reduceReference(reduction, values);
        });
        expectNd(evaluate(`${reduction}(a*b, axis=${axis})`, { a, b }, { backend }), outShape, expected);
      }
    });

    it('combines full reductions over chunks (large broadcast inputs)', () => {
      const random = rng(78);
      const a = randomView(random, [37, 3, 1000], 'any');
      const b = randomView(random, [3, 1], 'any');
      const products = [...indices(a.shape)].map((index) => at(a, index) * at(b, index));
      for (const reduction of ['sum', 'mean', 'min', 'max']) {
        const got = evaluate(`${reduction}(a*b)`, { a, b }, { backend }) as number;
        const want = reduceReference(reduction, products);
        expect(relClose(got, want, 1e-12), `${reduction}: ${got} vs ${want}`).toBe(true);
      }
      expect(evaluate('prod(a*0 + 1 + b*0)', { a, b }, { backend })).toBe(1);
      a.data.fill(NaN, a.offset, a.offset + 1);
      expect(evaluate('max(a*b)', { a, b }, { backend })).toBeNaN();
      expect(evaluate('min(a*b)', { a, b }, { backend })).toBeNaN();
    });

    it('writes in place over a large transposed input correctly (out shares the input memory)', () => {
      const n = 300;
      const original = Float64Array.from({ length: n * n }, (_, k) => k);
      const data = original.slice();
      const transposed = { data, shape: [n, n], strides: [1, n] };
      const result = evaluate('a * 2', { a: transposed }, { backend, out: data }) as NdOut;
      expect(result.data).toBe(data);
      const expected = [...indices([n, n])].map(([i, j]) => 2 * original[j * n + i]);
      expect(Array.from(data)).toEqual(expected);
    });

    it('reduces everything without axis, and to a number along the only axis of flat input', () => {
      const a = { data: Float64Array.from([1, 2, 3, 4, 5, 6]), shape: [2, 3] };
      expect(evaluate('sum(a * 2)', { a }, { backend })).toBe(42);
      expect(evaluate('max(a)', { a: { ...a, strides: [1, 2] } }, { backend })).toBe(6);
      expect(evaluate('sum(a, axis=0)', { a: Float64Array.from([1, 2, 3]) }, { backend })).toBe(6);
      expect(evaluate('prod(a, axis=-1)', { a: Float64Array.from([2, 3]) }, { backend })).toBe(6);
      const withNaN = { data: Float64Array.from([3, NaN, 1, 2, 5, 4]), shape: [2, 3] };
      expectNd(evaluate('min(a, axis=1)', { a: withNaN }, { backend }), [2], [NaN, 2]);
      expectNd(evaluate('max(a, axis=0)', { a: withNaN }, { backend }), [3], [3, NaN, 4]);
      const empty = { data: new Float64Array(0), shape: [0, 3] };
      expectNd(evaluate('sum(a, axis=0)', { a: empty }, { backend }), [3], [0, 0, 0]);
      expectNd(evaluate('min(a, axis=0)', { a: empty }, { backend }), [3], [NaN, NaN, NaN]);
      expectNd(evaluate('mean(a, axis=1)', { a: empty }, { backend }), [0], []);
    });
  });
}

suite('n-d errors', () => {
  const a = { data: new Float64Array(12), shape: [3, 4] };
  it('names both shapes when inputs cannot broadcast', () => {
    expect(() => evaluate('a + b', { a, b: { data: new Float64Array(5), shape: [5] } })).toThrow(
      new RangeError("evaluate: shapes (3,4) ('a') and (5,) ('b') cannot broadcast"),
    );
    expect(() => evaluate('a + b', { a, b: new Float64Array(3) })).toThrow(RangeError);
    expect(() =>
      evaluate('a + b', {
        a: { data: new Float64Array(2), shape: [2, 1] },
        b: { data: new Float64Array(9), shape: [3, 3] },
      }),
    ).toThrow("evaluate: shapes (2,1) ('a') and (3,3) ('b') cannot broadcast");
  });

  it('rejects bad data, shape, strides and offset with precise messages', () => {
    expect(() => evaluate('a', { a: { data: [1, 2], shape: [2] } as never })).toThrow(TypeError);
    expect(() => evaluate('a', { a: { data: new Float64Array(2), shape: 2 } as never })).toThrow(
      "evaluate: variable 'a'.shape must be an array of integers, got number",
    );
    expect(() => evaluate('a', { a: { data: new Float64Array(2), shape: [-2] } })).toThrow(
      new RangeError("evaluate: variable 'a'.shape[0] must be an integer >= 0, got -2"),
    );
    expect(() => evaluate('a', { a: { data: new Float64Array(2), shape: [1.5] } })).toThrow(RangeError);
    expect(() => evaluate('a', { a: { data: new Float64Array(2), shape: ['2'] } as never })).toThrow(TypeError);
    expect(() => evaluate('a', { a: { data: new Float64Array(4), shape: [2, 2], strides: [1] } })).toThrow(
      new RangeError("evaluate: variable 'a'.strides has 1 entries but shape (2,2) has 2"),
    );
    expect(() => evaluate('a', { a: { data: new Float64Array(4), shape: [2], offset: -1 } })).toThrow(RangeError);
    expect(() => evaluate('a', { a: { data: new Float64Array(4), shape: [2], offset: '1' } as never })).toThrow(
      TypeError,
    );
    expect(() => evaluate('a', { a: { data: new BigUint64Array(2), shape: [2] } as never })).toThrow(
      /^evaluate: variable 'a'.data must be a Float64Array, .*Uint8ClampedArray, BigInt64Array, got BigUint64Array/,
    );
  });

  it('rejects any view that would read outside its data, before reading', () => {
    const data = new Float64Array(6);
    const cases: NdArray[] = [
      { data, shape: [7] },
      { data, shape: [2, 3], offset: 1 },
      { data, shape: [3], strides: [3] },
      { data, shape: [3], strides: [-1] },
      { data, shape: [2, 2], strides: [-3, 1], offset: 2 },
      { data, shape: [1], offset: 6 },
      { data, shape: [0], offset: 7 },
    ];
    for (const a of cases) {
      for (const backend of backends) expect(() => evaluate('a * 2', { a }, { backend })).toThrow(RangeError);
    }
    expect(() => evaluate('a', { a: { data, shape: [3], strides: [3] } })).toThrow(
      "evaluate: variable 'a' (shape (3,), strides (3,), offset 0) reads elements 0..6 but its data has 6",
    );
    // The edges themselves are fine: the last element, a reversed view ending at index 0, an empty view at the end.
    expect(() => evaluate('a', { a: { data, shape: [2], strides: [5] } })).not.toThrow();
    expect(() => evaluate('a', { a: { data, shape: [6], strides: [-1], offset: 5 } })).not.toThrow();
    expect(() => evaluate('a', { a: { data, shape: [0], offset: 6 } })).not.toThrow();
  });

  it('refuses axis= reductions of int64 values, which float64 accumulation would round (both backends)', () => {
    // 2**60 + 1 is not a float64: a float64 column sum would silently give 2**60 + 0.
    const a = { data: BigInt64Array.from([2n ** 60n + 1n, 1n, 1n, 1n]), shape: [2, 2] };
    const message =
      'evaluate: the operand of sum(..., axis=0) must be a float, int32 or bool value (axis= reductions compute in ' +
      'float64), got int64';
    for (const backend of backends) {
      expect(() => evaluate('sum(a, axis=0)', { a }, { backend })).toThrow(new TypeError(message));
      expect(() => evaluate('max(a * 2, axis=-1)', { a }, { backend })).toThrow(TypeError);
      // Without an axis the reduction stays in int64, exactly.
      expect(evaluate('sum(a)', { a: a.data }, { backend })).toBe(2n ** 60n + 4n);
      // int32 and bool operands are exact in float64.
      const i = { data: Int32Array.from([2147483647, 1, 1, 1]), shape: [2, 2] };
      expect(Array.from((evaluate('sum(a, axis=0)', { a: i }, { backend }) as { data: Float64Array }).data)).toEqual([
        2147483648, 2,
      ]);
    }
  });

  it('rejects a broadcast result too large to allocate, before allocating', () => {
    const one = { data: new Float64Array(1), shape: [1, 1] };
    const huge = {
      row: { ...one, shape: [1, 2 ** 20], strides: [0, 0] },
      column: { ...one, shape: [2 ** 20, 1], strides: [0, 0] },
    };
    expect(() => evaluate('row * column', huge)).toThrow(
      new RangeError(
        'evaluate: the broadcast shape (1048576,1048576) has 1099511627776 elements, more than 4294967296',
      ),
    );
  });

  it('checks axis= in the expression and against the result shape', () => {
    expect(() => evaluate('sum(a, axis=2)', { a })).toThrow(
      new RangeError('evaluate: axis 2 is out of bounds for a result of shape (3,4) (2 dimensions)'),
    );
    expect(() => evaluate('sum(a, axis=-3)', { a })).toThrow(RangeError);
    expect(() => evaluate('sum(a, axis=1)', { a: new Float64Array(3) })).toThrow(RangeError);
    expect(() => evaluate('sum(a, axis=1.5)', { a })).toThrow(ExpressionError);
    expect(() => evaluate('sum(a, 1)', { a })).toThrow("expected 'axis=' but found '1' (column 8)");
    expect(() => evaluate('sum(a, axis=b)', { a })).toThrow(ExpressionError);
    expect(() => evaluate('a = 1', { a })).toThrow(ExpressionError);
    expect(() => evaluate('sum(a, axis=0)', { a }, { out: new Float64Array(4) })).toThrow(
      new TypeError("evaluate: out cannot be used with the reduction 'sum'"),
    );
    expect(compile('mean(a, axis=-1)').reduction).toBe('mean');
    expect(compile('mean(a, axis=-1)').toString()).toContain('mean(a, axis=-1)');
  });
});

// The same program on an OpenCL device (issue 21): axis= reductions agree with the CPU (more in opencl-evaluate-nd).
suite.skipIf(!opencl.available())('axis= on OpenCL', () => {
  it('reduces along the axis as the CPU does, through opencl.evaluate and runOpenCL', async () => {
    const a = { data: Float64Array.from({ length: 12 }, (_, k) => k - 5), shape: [3, 4] };
    expect(await opencl.evaluate('sum(a, axis=0)', { a })).toEqual(evaluate('sum(a, axis=0)', { a }));
    expect(await compile('max(a * 2, axis=-1)').runOpenCL({ a })).toEqual(evaluate('max(a * 2, axis=-1)', { a }));
    await expect(opencl.evaluate('sum(a, axis=2)', { a })).rejects.toThrow(RangeError);
  });
});

/** `view` with its data moved into a SharedArrayBuffer, or to a subarray starting one element into its buffer. */
function relocated<T extends NdArray>(view: T, where: 'shared' | 'unaligned'): T {
  const data = view.data as Float64Array;
  const Ctor = data.constructor as Float64ArrayConstructor;
  const bytes = (data.length + 1) * data.BYTES_PER_ELEMENT;
  const buffer = where === 'shared' ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  const moved = new Ctor(buffer, data.BYTES_PER_ELEMENT, data.length);
  moved.set(data);
  return { ...view, data: moved };
}

function sameValues(native: unknown, js: unknown): boolean {
  if (typeof native === 'number') return Object.is(native, js);
  const a = native as NdOut;
  const b = js as NdOut;
  if (a.data.constructor !== b.data.constructor || a.shape.join() !== b.shape.join()) return false;
  return a.data.every((x, k) => Object.is(x, b.data[k]));
}

// The native n-d evaluator (native/expr/ndarray_kernel.cc: strided reads, rows split over threads, axis
// reductions reduced natively) against the pure-TS twin (gather + fused loop + reduceAxis), value for value:
// both fold each reduction in the same order, so the answers are the same bits. Shapes cross the native
// chunk sizes (rows of 4096+ elements run one per chunk, broadcast rows are read as scalars).
suite.runIf(backends.includes('native'))('native n-d evaluator = pure-TS path', () => {
  const EXPRESSIONS = ['a*b + c - 2', 'where(a > b, a - c, b * 2)', '(a + 1) * (b - c)'];
  for (let seed = 1; seed <= 60; seed++) {
    it(`same results on random views, broadcasts, dtypes, threads and axes (seed ${seed})`, async () => {
      const random = rng(5000 + seed);
      const ndim = 1 + Math.floor(random() * 4);
      const shape = randomShape(random, ndim).map((extent) => (extent === 0 && random() < 0.7 ? 2 : extent));
      // Now and then one long dimension, so the native side splits rows over tasks and chunks.
      if (random() < 0.5) shape[Math.floor(random() * ndim)] = 3000 + Math.floor(random() * 3000);
      const views = [0, 1, 2].map((k) => {
        const view = randomView(random, k === 0 ? shape : broadcastable(random, shape), 'any');
        const r = random();
        return r < 0.2 ? relocated(view, 'shared') : r < 0.4 ? relocated(view, 'unaligned') : view;
      });
      const dtype = seed % 4;
      const vars = Object.fromEntries(
        views.map((view, k) => {
          const data =
            dtype === 1
              ? Float32Array.from(view.data)
              : dtype === 2 && k === 1
                ? Int16Array.from(view.data)
                : view.data;
          return ['abc'[k], { ...view, data }];
        }),
      );
      const expr = EXPRESSIONS[seed % EXPRESSIONS.length];
      const reduction = ['sum', 'prod', 'min', 'max', 'mean'][Math.floor(random() * 5)];
      const axis = Math.floor(random() * ndim) - (random() < 0.5 ? ndim : 0);
      const form = seed % 3;
      const source = form === 0 ? expr : form === 1 ? `${reduction}(${expr}, axis=${axis})` : `${reduction}(${expr})`;
      const threads = 1 + Math.floor(random() * 4);
      const js = evaluate(source, vars, { backend: 'js' });
      const native = evaluate(source, vars, { backend: 'native', threads });
      // Full reductions and axis 0 combine per-task partials natively, per-chunk ones in TS: same up to rounding.
      const positive = axis < 0 ? axis + ndim : axis;
      if (form === 2 || (form === 1 && positive === 0)) {
        const nativeValues = typeof native === 'number' ? [native] : Array.from((native as NdOut).data);
        const jsValues = typeof js === 'number' ? [js] : Array.from((js as NdOut).data);
        expect(nativeValues.length).toBe(jsValues.length);
        nativeValues.forEach((x, k) =>
          expect(relClose(x, jsValues[k], 1e-9), `${source}: ${x} vs ${jsValues[k]}`).toBe(true),
        );
      } else {
        expect(sameValues(native, js), source).toBe(true);
      }
      expect(sameValues(await evaluateAsync(source, vars, { backend: 'native', threads }), native)).toBe(true);
    });
  }

  it('reads row and column broadcasts of long rows in place or as scalars, any element type', () => {
    for (const Ctor of [Float64Array, Float32Array, Int16Array, Uint8Array]) {
      const column = { data: Ctor.from({ length: 14 }, (_, k) => k + 1), shape: [7, 1], strides: [-2, 1], offset: 12 };
      const row = { data: Ctor.from({ length: 5000 }, (_, k) => k % 200), shape: [1, 5000] };
      const vars = { a: column, b: row };
      for (const source of ['a * b - a', 'sum(a * b, axis=1)', 'max(b - a, axis=0)', 'mean(a + b)']) {
        const js = evaluate(source, vars, { backend: 'js' });
        expect(sameValues(evaluate(source, vars, { backend: 'native', threads: 3 }), js), source).toBe(true);
      }
      const product = evaluate('a * b', vars, { backend: 'native' }) as NdOut;
      expect(product.data[4999]).toBe(13 * (4999 % 200));
      expect(product.data[6 * 5000 + 7]).toBe(1 * 7);
    }
  });

  // Fewer dimension-0 rows than threads: the native side walks more leading dimensions as rows (never past a
  // reduced axis), cutting chunks where a dimension wraps.
  it('splits a few long rows over threads, for every axis', () => {
    const random = rng(4242);
    for (const shape of [
      [2, 3, 5000],
      [3, 7, 700],
      [1, 2, 3, 3000],
    ]) {
      const a = randomView(random, shape, 'any');
      const b = randomView(random, broadcastable(random, shape), 'any');
      const sources = ['a * b - 1', 'sum(a * b)', ...shape.map((_, axis) => `sum(a - b, axis=${axis})`)];
      for (const source of [...sources, `max(a, axis=-1)`, `mean(a * b, axis=1)`]) {
        const js = evaluate(source, { a, b }, { backend: 'js' });
        for (const threads of [1, 3, 8]) {
          const native = evaluate(source, { a, b }, { backend: 'native', threads });
          if (typeof js === 'number') expect(relClose(native as number, js, 1e-12), source).toBe(true);
          else expect(sameValues(native, js), `${source} (${shape}), ${threads} threads`).toBe(true);
        }
      }
    }
  });

  it('keeps NaN in min/max along every axis, and NaN over an empty axis', () => {
    const data = Float64Array.from({ length: 6 * 5000 }, (_, k) => (k % 7) - 3);
    data[3 * 5000 + 17] = NaN;
    const a = { data, shape: [6, 5000] };
    for (const source of ['min(a, axis=0)', 'max(a, axis=1)', 'min(a * 2, axis=-1)', 'sum(a, axis=0)']) {
      const js = evaluate(source, { a }, { backend: 'js' });
      expect(sameValues(evaluate(source, { a }, { backend: 'native', threads: 2 }), js), source).toBe(true);
    }
    expect((evaluate('max(a, axis=1)', { a }, { backend: 'native' }) as NdOut).data[3]).toBeNaN();
    const empty = { data: new Float64Array(0), shape: [3, 0] };
    expectNd(evaluate('max(a, axis=1)', { a: empty }, { backend: 'native' }), [3], [NaN, NaN, NaN]);
    expectNd(evaluate('prod(a, axis=1)', { a: empty }, { backend: 'native' }), [3], [1, 1, 1]);
  });

  it('evaluateAsync reads copies of its inputs: detaching them meanwhile changes nothing', async () => {
    const data = Float64Array.from({ length: 4 * 5000 }, (_, k) => k);
    const a = { data, shape: [5000, 4], strides: [1, 5000] };
    const want = evaluate('sum(a * 2, axis=1)', { a }, { backend: 'native' });
    const pending = evaluateAsync('sum(a * 2, axis=1)', { a }, { backend: 'native' });
    structuredClone(data.buffer, { transfer: [data.buffer] });
    expect(sameValues(await pending, want)).toBe(true);
  });

  it('the raw binding re-checks shapes, strides, offsets and result lengths before touching memory', () => {
    const addon = createRequire(__filename)(nativePath!) as { exprEvaluateNd: (...args: unknown[]) => Float64Array };
    // One input, no constants, one elementwise output in its own register (both float64): result = a + a.
    const code = new Int32Array([1, 0, 1, 0, 1, 4, 4, 0, 1, 2, 1, 0, 0, 0]);
    const data = new Float64Array(6);
    const run = (strides: unknown, offset: unknown, shape: unknown, out: unknown, axes = [0, 0], reduced = [null]) =>
      addon.exprEvaluateNd(
        code,
        new Float64Array(0),
        [data],
        [strides],
        [offset],
        shape,
        [out],
        Int32Array.from(axes),
        reduced,
        2,
        256,
      );
    const out = new Float64Array(6);
    run([3, 1], 0, [2, 3], out);
    expect(out).toEqual(new Float64Array(6));
    expect(() => run([3, 1], 1, [2, 3], out)).toThrow(new RangeError('inputs[0] reads elements 1..6 but has 6'));
    expect(() => run([-3, 1], 0, [2, 3], out)).toThrow(RangeError);
    expect(() => run([3, 2 ** 53], 0, [2, 3], out)).toThrow(RangeError);
    expect(() => run([3], 0, [2, 3], out)).toThrow(RangeError);
    expect(() => run([3, 1], -1, [2, 3], out)).toThrow(RangeError);
    expect(() => run([3, 1], 0, [2, 3], new Float64Array(5))).toThrow(RangeError);
    expect(() => run([3, 1], 0, [2, 3], new Float32Array(6))).toThrow(TypeError);
    expect(() => run([0, 0], 0, [2 ** 20, 2 ** 20], null)).toThrow(RangeError);
    expect(() => run([], 0, [], out)).toThrow(RangeError);
    expect(() => run([3, 1], 0, [2, 3], null, [1, 2], [new Float64Array(2)])).toThrow(RangeError);
    expect(() => run([3, 1], 0, [2, 3], null, [1, 1], [new Float64Array(3)])).toThrow(RangeError);
    expect(() => run([3, 1], 0, [2, 3], null, [9, 1], [new Float64Array(2)])).toThrow(RangeError);
    const rows = new Float64Array(2);
    data.set([1, 2, 3, 4, 5, 6]);
    run([3, 1], 0, [2, 3], null, [1, 1], [rows]);
    expect(rows).toEqual(Float64Array.of(12, 30));
  });
});
