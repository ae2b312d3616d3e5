// N-dimensional inputs and results, shared by evaluate and opencl.evaluate: `{ data, shape, strides?, offset? }`
// objects, the layout of scijs `ndarray` (which spells it `stride`) and `@stdlib/ndarray` (strides and offset
// count elements), so their objects are read directly. The kernels stay 1-d: each input is broadcast (NumPy's
// rules) and gathered into a contiguous C-order buffer of the result's shape, only when it is not one already,
// and the existing fused loop / native VM runs over the flat buffers. Every read a view implies is checked
// against its data's length before anything is read, so the gather (and the native side, which only sees
// contiguous buffers of checked length) never indexes outside `data`.
import { trueLength, typeName } from '../core/validate.js';
import type { Reduction } from './ast.js';
import { ACCEPTED_VARIABLES, type ElementArray, arrayCode } from './types.js';

/** An n-d input: `data[offset + Σ index[d] * strides[d]]` is the element at `index`. */
export interface NdArray<T extends ElementArray = ElementArray> {
  data: T;
  shape: readonly number[];
  /** Elements (not bytes) between neighbours along each dimension; may be negative or 0. Default: C order. */
  strides?: readonly number[];
  /** Index in `data` of the first element. Default 0. */
  offset?: number;
}

/** An n-d result: always contiguous, C order, offset 0. */
export interface NdResult<T extends ElementArray = Float64Array | Float32Array> {
  data: T;
  shape: number[];
  strides: number[];
  offset: number;
}

/** The most elements a result may have (V8's typed-array length limit on 64-bit). */
export const MAX_ELEMENTS = 2 ** 32;

/** NumPy's limit on dimensions. */
export const MAX_DIMENSIONS = 64;

export interface View {
  data: ElementArray;
  shape: number[];
  strides: number[];
  offset: number;
}

/** A non-null object that is not a typed array and has `data` and `shape`: treated as an n-d input. */
export function isNdObject(value: unknown): value is NdArray {
  return (
    typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && 'data' in value && 'shape' in value
  );
}

export function formatShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(',')})`;
}

export function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (const extent of shape) size *= extent;
  return size;
}

export function cStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let step = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = step;
    step *= shape[d];
  }
  return strides;
}

function integerList(where: string, label: string, value: unknown, min: number): number[] {
  if (!Array.isArray(value) && !ArrayBuffer.isView(value)) {
    throw new TypeError(`${where}: ${label} must be an array of integers, got ${typeName(value)}`);
  }
  const list = Array.from(value as ArrayLike<unknown>, (x) => (typeof x === 'bigint' ? Number(x) : x));
  if (list.length > MAX_DIMENSIONS) {
    throw new RangeError(`${where}: ${label} has ${list.length} dimensions, at most ${MAX_DIMENSIONS} are supported`);
  }
  list.forEach((x, d) => {
    if (typeof x !== 'number') throw new TypeError(`${where}: ${label}[${d}] must be an integer, got ${typeName(x)}`);
    if (!Number.isSafeInteger(x) || x < min) {
      throw new RangeError(`${where}: ${label}[${d}] must be an integer${min === 0 ? ' >= 0' : ''}, got ${x}`);
    }
  });
  return list as number[];
}

/** Validates an n-d input, including that every element it addresses lies inside `data`. */
export function readView(where: string, name: string, value: NdArray): View {
  const data = value.data as unknown;
  if (arrayCode(data) === null) {
    const accepted = ACCEPTED_VARIABLES.replace(/, BigUint64Array, .*$/, '');
    throw new TypeError(`${where}: variable '${name}'.data must be ${accepted}, got ${typeName(data)}`);
  }
  const elements = data as ElementArray;
  return { data: elements, ...readLayout(where, name, value, trueLength(elements)) };
}

/** The lowest and highest index of `data` that a non-empty layout reads. */
export function layoutSpan(layout: Omit<View, 'data'>): { low: number; high: number } {
  let low = layout.offset;
  let high = layout.offset;
  layout.shape.forEach((extent, d) => {
    const span = (extent - 1) * layout.strides[d];
    if (span < 0) low += span;
    else high += span;
  });
  return { low, high };
}

/**
 * Validates the shape, strides and offset of an n-d input whose data holds `length` elements (a typed array,
 * or an OpenCL Buffer for opencl.evaluate): every element it addresses must lie inside the data.
 */
export function readLayout(
  where: string,
  name: string,
  value: Omit<NdArray, 'data'>,
  length: number,
): Omit<View, 'data'> {
  const label = `variable '${name}'`;
  const shape = integerList(where, `${label}.shape`, value.shape, 0);
  const given = value.strides ?? (value as { stride?: unknown }).stride;
  const strides = given === undefined ? cStrides(shape) : integerList(where, `${label}.strides`, given, -Infinity);
  if (strides.length !== shape.length) {
    throw new RangeError(
      `${where}: ${label}.strides has ${strides.length} entries but shape ${formatShape(shape)} has ${shape.length}`,
    );
  }
  const offset = value.offset ?? 0;
  if (typeof offset !== 'number')
    throw new TypeError(`${where}: ${label}.offset must be an integer, got ${typeName(offset)}`);
  if (!Number.isSafeInteger(offset) || offset < 0)
    throw new RangeError(`${where}: ${label}.offset must be an integer >= 0, got ${offset}`);
  if (sizeOf(shape) > 0) {
    const { low, high } = layoutSpan({ shape, strides, offset });
    if (low < 0 || high >= length) {
      throw new RangeError(
        `${where}: ${label} (shape ${formatShape(shape)}, strides ${formatShape(strides)}, offset ${offset}) reads ` +
          `elements ${low}..${high} but its data has ${length}`,
      );
    }
  } else if (offset > length) {
    throw new RangeError(`${where}: ${label}.offset ${offset} is past the end of its data (${length} elements)`);
  }
  return { shape, strides, offset };
}

/** NumPy's broadcast shape of named shapes; a RangeError naming both shapes when two cannot broadcast. */
export function broadcastShapes(
  where: string,
  shapes: readonly { name: string; shape: readonly number[] }[],
): number[] {
  const ndim = Math.max(0, ...shapes.map((s) => s.shape.length));
  const result = new Array<number>(ndim).fill(1);
  const from = new Array<number>(ndim).fill(-1);
  shapes.forEach(({ shape }, k) => {
    for (let back = 1; back <= shape.length; back++) {
      const extent = shape[shape.length - back];
      const d = ndim - back;
      if (extent === 1 || extent === result[d]) continue;
      if (result[d] !== 1) {
        const other = shapes[from[d]];
        const pair = `${formatShape(other.shape)} ('${other.name}') and ${formatShape(shape)} ('${shapes[k].name}')`;
        throw new RangeError(`${where}: shapes ${pair} cannot broadcast`);
      }
      result[d] = extent;
      from[d] = k;
    }
  });
  return result;
}

/** `view` with `shape`'s dimensions (its broadcast shape): stride 0 along leading and broadcast dimensions. */
export function broadcastView<T extends Omit<View, 'data'>>(view: T, shape: readonly number[]): T {
  const lead = shape.length - view.shape.length;
  const strides = shape.map((_, d) => (d < lead || view.shape[d - lead] === 1 ? 0 : view.strides[d - lead]));
  return { ...view, shape: [...shape], strides };
}

/** Whether gather() returns `view` in place (a subarray) for `shape`. */
export function readsInPlace(view: View, shape: readonly number[]): boolean {
  return sizeOf(view.shape) === sizeOf(shape) && isContiguous(view);
}

function isContiguous(view: View): boolean {
  const expected = cStrides(view.shape);
  return view.shape.every((extent, d) => extent === 1 || view.strides[d] === expected[d]);
}

/**
 * The view's elements in C order over `shape` (its broadcast shape): a subarray when the view already is
 * that (no copy), else `into` (or a new array of the same type) filled by walking the strides (0 along
 * broadcast dims).
 */
export function gather(view: View, shape: readonly number[], into?: ElementArray): ElementArray {
  const size = sizeOf(shape);
  if (readsInPlace(view, shape)) return view.data.subarray(view.offset, view.offset + size);
  const Ctor = view.data.constructor as new (n: number) => ElementArray;
  const out = into ? into.subarray(0, size) : new Ctor(size);
  if (size === 0) return out;
  const ndim = shape.length;
  const { data, strides } = broadcastView(view, shape);
  const last = ndim === 0 ? 1 : shape[ndim - 1];
  const step = ndim === 0 ? 0 : strides[ndim - 1];
  const index = new Array<number>(ndim).fill(0);
  let base = view.offset;
  for (let o = 0; o < size; o += last) {
    // Rows that are contiguous (step 1) or broadcast (step 0) copy or fill at memcpy/memset speed.
    if (step === 1) (out as Float64Array).set(data.subarray(base, base + last) as Float64Array, o);
    else if (step === 0) (out as Float64Array).fill(data[base] as number, o, o + last);
    else for (let k = 0; k < last; k++) out[o + k] = data[base + k * step];
    for (let d = ndim - 2; d >= 0; d--) {
      base += strides[d];
      if (++index[d] < shape[d]) break;
      base -= strides[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}

/** `axis` checked against an n-d shape (negative counts from the end, as NumPy); returns it non-negative. */
export function normalizeAxis(where: string, axis: number, shape: readonly number[]): number {
  const ndim = shape.length;
  if (axis < -ndim || axis >= ndim) {
    throw new RangeError(
      `${where}: axis ${axis} is out of bounds for a result of shape ${formatShape(shape)} (${ndim} dimensions)`,
    );
  }
  return axis < 0 ? axis + ndim : axis;
}

const INITIAL: Record<Reduction, number> = { sum: 0, mean: 0, prod: 1, min: Infinity, max: -Infinity };
const STEP: Record<Reduction, string> = {
  sum: 'acc += v;',
  mean: 'acc += v;',
  prod: 'acc *= v;',
  min: 'if (v < acc || v !== v) acc = v;',
  max: 'if (v > acc || v !== v) acc = v;',
};
type AxisLoop = (values: ArrayLike<number>, result: Float64Array, outer: number, extent: number, inner: number) => void;
const axisLoops = new Map<Reduction, AxisLoop>();
const LANES = 8;

// Along the last axis (inner 1) sum/prod fold each run in LANES lanes (element l into lane l % LANES, the
// tail into lane 0, then the lanes in order): the native kernel (ndarray_kernel.cc) folds the same way so
// its loop vectorizes, and both round alike. min/max (and other axes) go element after element.
function runFold(reduction: Reduction): string {
  if (reduction !== 'sum' && reduction !== 'mean' && reduction !== 'prod') {
    return `let acc = result[o];
          for (let l = 0; l < extent; l++) { const v = values[base + l]; ${STEP[reduction]} }
          result[o] = acc;`;
  }
  const lanes = Array.from({ length: LANES }, (_, l) => `lane${l}`);
  const step = (lane: string, value: string) => `${lane} ${reduction === 'prod' ? '*' : '+'}= ${value};`;
  return `let ${lanes.map((lane) => `${lane} = ${INITIAL[reduction]}`).join(', ')};
          const body = extent - (extent % ${LANES});
          let l = 0;
          for (; l < body; l += ${LANES}) { ${lanes.map((lane, k) => step(lane, `values[base + l + ${k}]`)).join(' ')} }
          for (; l < extent; l++) ${step('lane0', 'values[base + l]')}
          let acc = ${INITIAL[reduction]};
          ${lanes.map((lane) => step('acc', lane)).join(' ')}
          ${step('result[o]', 'acc')}`;
}

// One loop per reduction, generated as kernel.ts does, so the step is inlined instead of switched on per
// element. Along the last axis (inner 1) each result is one contiguous run; otherwise rows are combined.
function axisLoop(reduction: Reduction): AxisLoop {
  let loop = axisLoops.get(reduction);
  if (!loop) {
    const body = `
      for (let o = 0; o < outer; o++) {
        if (inner === 1) {
          const base = o * extent;
          ${runFold(reduction)}
          continue;
        }
        const row = o * inner;
        for (let l = 0; l < extent; l++) {
          const base = (o * extent + l) * inner;
          for (let i = 0; i < inner; i++) {
            const v = values[base + i];
            let acc = result[row + i];
            ${STEP[reduction]}
            result[row + i] = acc;
          }
        }
      }`;
    loop = new Function('values', 'result', 'outer', 'extent', 'inner', body) as AxisLoop;
    axisLoops.set(reduction, loop);
  }
  return loop;
}

/**
 * Reduces the C-order `values` of `shape` along `axis` (float64 accumulators, as the full reductions):
 * min/max propagate NaN and are NaN over an empty axis, mean is sum / extent.
 */
export function reduceAxis(
  reduction: Reduction,
  values: ArrayLike<number>,
  shape: readonly number[],
  axis: number,
): Float64Array {
  const extent = shape[axis];
  const outer = sizeOf(shape.slice(0, axis));
  const inner = sizeOf(shape.slice(axis + 1));
  const result = new Float64Array(outer * inner).fill(INITIAL[reduction]);
  axisLoop(reduction)(values, result, outer, extent, inner);
  if (reduction === 'mean') for (let k = 0; k < result.length; k++) result[k] /= extent;
  if ((reduction === 'min' || reduction === 'max') && extent === 0) result.fill(NaN);
  return result;
}

export function ndResult<T extends ElementArray>(data: T, shape: readonly number[]): NdResult<T> {
  return { data, shape: [...shape], strides: cStrides(shape), offset: 0 };
}
