// opencl.evaluate: the CPU `evaluate`'s expression language (same parser and SSA lowering) run as a
// generated OpenCL kernel. Elementwise expressions become an ElementwiseKernel, an outermost
// sum/prod/min/max/mean a ReductionKernel, `sum(x, axis=N)` a kernel with one work-item per result
// element that folds its line in the CPU's order; each is cached per (expression, input types, layout,
// precision, device). Inputs may be typed arrays (uploaded, result downloaded) or Buffers already on the
// device (then `out` may be a Buffer too and nothing crosses the bus).
//
// Shapes: n-d inputs `{ data, shape, strides?, offset? }` are validated and broadcast by src/lang/ndarray.ts,
// as in the CPU evaluate, but not gathered on the host: each input is uploaded as the span of its data that
// it reads and the kernel indexes it through its strides (hp_layout, codegen.ts), so a broadcast input
// crosses the bus once, not once per repeat. Dimensions are collapsed first (extent-1 dims dropped, neighbours
// every input steps through as one merged), so a contiguous input reads x[i] with no index arithmetic.
import { LRUCache } from 'lru-cache';
import { checkKnownOptions } from '../core/options.js';
import { checkOneOf, trueLength, typeName } from '../core/validate.js';
import { type CallNode, ExpressionError, forEachNode, isReduction, type Node, type Reduction } from '../lang/ast.js';
import { LoweringError, bindingFor, floatPromotion, lower, variableNames, type Ir } from '../lang/ir.js';
import { registerDeviceEvaluator, type DeviceEvaluator } from '../lang/device.js';
import {
  MAX_ELEMENTS,
  type View,
  broadcastShapes,
  broadcastView,
  cStrides,
  formatShape,
  gather,
  isNdObject,
  layoutSpan,
  normalizeAxis,
  readLayout,
  sizeOf,
} from '../lang/ndarray.js';
import { parse } from '../lang/parser.js';
import { arrayInputCode } from '../lang/bind.js';
import { type GeneratedExpression, type InputCode, type RealType, generateExpression, layoutWords } from './codegen.js';
import { Buffer, Context, createContext, defaultDevice, Device } from './runtime.js';
import { arrayScalarType } from './types.js';
import { ElementwiseKernel, ReductionKernel, markSelfIndexed } from './snippets.js';

export type Precision = 'auto' | 'float32' | 'float64';

export interface OpenclEvaluateOptions {
  /** Device to run on (a context per device is created once and kept). Default: defaultDevice(). */
  device?: Device;
  /** Context to run in instead (its device is used). */
  context?: Context;
  /**
   * 'auto' (default): the CPU evaluate's promotion rule (numexpr's: all-float32 arrays with no
   * scalar variable and no float constant such as `2.0` compute in float32, anything else in float64,
   * which needs a device with fp64). 'float32' or 'float64': force it.
   */
  precision?: Precision;
  /** Where to write an elementwise result: a Float32Array/Float64Array or a float/double Buffer of n elements. */
  out?: Float64Array | Float32Array | Buffer;
}

/** An n-d input (the CPU evaluate's NdArray), whose data may also be a Buffer on the device. */
export interface OpenclNdArray {
  data: Float64Array | Float32Array | Int32Array | Buffer;
  shape: readonly number[];
  /** Elements between neighbours along each dimension; may be negative or 0. Default: C order. */
  strides?: readonly number[];
  /** Index in `data` of the first element. Default 0. */
  offset?: number;
}

/** An n-d result: C order, offset 0; `data` is `out` when given (a Buffer stays on the device). */
export interface OpenclNdResult {
  data: Float64Array | Float32Array | Buffer;
  shape: number[];
  strides: number[];
  offset: number;
}

export type OpenclVariable = Float64Array | Float32Array | Int32Array | number | Buffer | OpenclNdArray;
/**
 * A flat array or Buffer (flat inputs), an n-d result (any n-d input), a number (a full reduction, or an axis
 * reduction down to 0 dimensions) or, for `axis=` reductions, an n-d result holding a Float64Array.
 */
export type OpenclEvaluateResult = Float64Array | Float32Array | Buffer | number | OpenclNdResult;

const KNOWN_OPTIONS = ['device', 'context', 'precision', 'out'];
const codeOfBufferType: Partial<Record<string, InputCode>> = { double: 'd', float: 'f', int: 'i' };
const ACCEPTED_ARRAYS = 'a Float64Array, Float32Array, Int32Array, a double/float/int Buffer';

function inputCode(value: unknown): InputCode | null {
  if (value instanceof Buffer) return codeOfBufferType[value.type] ?? null;
  return arrayInputCode(value);
}

interface Parsed {
  root: Node;
  /** What is lowered: the root, or the argument of an `axis=` reduction. */
  body: Node;
  /** The text the tree was parsed from (error carets point into it). */
  source: string;
  /** Every name the expression reads, `pi` and `e` included (each is the constant unless vars bind it). */
  names: string[];
  /** Lowered programs per Binding of the variables (see CompiledExpressions in expr/program.ts). */
  irs: Map<string, Ir>;
  /** An outermost reduction over all elements. */
  reduction: Reduction | null;
  /** An outermost `axis=` reduction: the body is computed elementwise, then reduced along the axis. */
  axisReduction: { reduction: Reduction; axis: number } | null;
}

const parsedCache = new LRUCache<string, Parsed>({ max: 256 });

function fromTree(root: Node, source: string): Parsed {
  const names = variableNames([{ root }]);
  if (root.kind === 'call' && root.axis !== undefined) {
    const axisReduction = { reduction: root.fn as Reduction, axis: root.axis };
    return { root, body: (root as CallNode).args[0], source, names, irs: new Map(), reduction: null, axisReduction };
  }
  const reduction = root.kind === 'call' && isReduction(root.fn) ? root.fn : null;
  return { root, body: root, source, names, irs: new Map(), reduction, axisReduction: null };
}

const isIntegerInput = (value: unknown) => {
  const data = isNdObject(value) ? value.data : value;
  return data instanceof Int32Array || (data instanceof Buffer && data.type === 'int');
};

/** The program lowered for these variables: which constants they shadow, which inputs are integers. */
function irFor(where: string, parsed: Parsed, vars: Readonly<Record<string, unknown>>): Ir {
  const { key, binding } = bindingFor(parsed.names, vars, isIntegerInput);
  let ir = parsed.irs.get(key);
  if (!ir) {
    try {
      ir = lower([{ name: 'result', root: parsed.body }], binding);
    } catch (error) {
      if (!(error instanceof LoweringError)) throw error;
      throw new ExpressionError(where, error.problem, parsed.source, error.column);
    }
    parsed.irs.set(key, ir);
  }
  return ir;
}

function parseExpression(where: string, source: unknown): Parsed {
  if (typeof source !== 'string') throw new TypeError(`${where}: expression must be a string, got ${typeName(source)}`);
  let parsed = parsedCache.get(source);
  if (!parsed) {
    parsed = fromTree(parse(source, where), source);
    parsedCache.set(source, parsed);
  }
  return parsed;
}

function firstColumn(root: Node, name: string): number | undefined {
  let column: number | undefined;
  forEachNode(root, (node) => {
    if (column === undefined && node.kind === 'variable' && node.name === name) column = node.column;
  });
  return column;
}

/** An array input's layout over its data (typed array or Buffer). */
type Layout = Omit<View, 'data'> & { data: Float64Array | Float32Array | Int32Array | Buffer };

/** How the kernel reads the inputs when any is n-d: the collapsed result shape and each strided input's layout. */
interface StridedPlan {
  /** The result's shape with extent-1 dimensions dropped and contiguous neighbours merged. */
  shape: number[];
  /** Per input: its offset and strides over `shape` when the kernel indexes them, null for x[i] and scalars. */
  inputs: ({ offset: number; strides: number[] } | null)[];
}

interface Bound {
  ir: Ir;
  /** Per input: a number, a Buffer, or the host elements to upload (the part of the data the kernel reads). */
  values: (Float64Array | Float32Array | Int32Array | number | Buffer)[];
  codes: InputCode[];
  n: number;
  real: RealType;
  /** The broadcast shape when any input is n-d (results are then n-d), else null. */
  shape: number[] | null;
  /** With a shape: how each input is indexed (null when every array input reads x[i]). */
  plan: StridedPlan | null;
  /** An `axis=` reduction's axis (non-negative) in the result shape. */
  axis: number | null;
}

// Drops extent-1 dimensions and merges a dimension into the previous one when every input steps through both
// as one (outer stride = inner stride × inner extent): a contiguous input becomes 1-d with stride 1.
function collapse(shape: readonly number[], strides: readonly (number[] | null)[]): StridedPlan {
  const merged: number[] = [];
  const mergedStrides = strides.map((s) => (s ? ([] as number[]) : null));
  shape.forEach((extent, d) => {
    if (extent === 1) return;
    const last = merged.length - 1;
    const joins = last >= 0 && strides.every((s, k) => !s || mergedStrides[k]![last] === s[d] * extent);
    if (joins) merged[last] *= extent;
    else merged.push(extent);
    mergedStrides.forEach((s, k) => {
      if (!s) return;
      if (joins) s[last] = strides[k]![d];
      else s.push(strides[k]![d]);
    });
  });
  return { shape: merged, inputs: mergedStrides.map((s) => s && { offset: 0, strides: s }) };
}

/**
 * Broadcasts the inputs' layouts to `shape` and decides how the kernel reads each: x[i] (contiguous from its
 * offset: a host array is uploaded from there, n elements) or through hp_layout (a host array is uploaded as
 * the span it reads, or first gathered compactly when that span is mostly elements it skips).
 */
function planLayouts(shape: number[], layouts: (Layout | null)[], bound: Pick<Bound, 'values'>): StridedPlan | null {
  const broadcast = layouts.map((layout) => {
    if (!layout) return null;
    const own = sizeOf(layout.shape);
    if (!(layout.data instanceof Buffer) && own > 0) {
      const { low, high } = layoutSpan(layout);
      if (high - low + 1 > 4 * own + 64) {
        // A sparse view (a column of a wide matrix): gather its own elements, not the whole span.
        const compact = gather(layout as View, layout.shape) as Layout['data'];
        return broadcastView({ data: compact, shape: layout.shape, strides: cStrides(layout.shape), offset: 0 }, shape);
      }
    }
    return broadcastView(layout, shape);
  });
  const plan = collapse(
    shape,
    broadcast.map((b) => b && b.strides),
  );
  const n = sizeOf(shape);
  let anyStrided = false;
  broadcast.forEach((b, k) => {
    if (!b) return;
    const strides = plan.inputs[k]!.strides;
    const contiguous = strides.length === 0 || (strides.length === 1 && strides[0] === 1);
    if (b.data instanceof Buffer) {
      if (contiguous && b.offset === 0) plan.inputs[k] = null;
      else plan.inputs[k]!.offset = b.offset;
      bound.values[k] = b.data;
      anyStrided ||= plan.inputs[k] !== null;
      return;
    }
    if (contiguous) {
      bound.values[k] = b.data.subarray(b.offset, b.offset + n);
      plan.inputs[k] = null;
      return;
    }
    const { low, high } = layoutSpan({ shape: plan.shape, strides, offset: b.offset });
    bound.values[k] = b.data.subarray(low, high + 1);
    plan.inputs[k]!.offset = b.offset - low;
    anyStrided = true;
  });
  return anyStrided ? plan : null;
}

/** Orders and checks the variables, and picks the compute type (the CPU evaluate's promotion table). */
function bind(
  where: string,
  source: string,
  parsed: Parsed,
  vars: unknown,
  precision: Precision,
  device: Device,
): Bound {
  if (vars === null || typeof vars !== 'object' || Array.isArray(vars)) {
    throw new TypeError(
      `${where}: variables must be an object mapping names to typed arrays, Buffers, n-d arrays or numbers, ` +
        `got ${typeName(vars)}`,
    );
  }
  const record = vars as Record<string, unknown>;
  // A variable named like a constant (pi, e) wins over the constant, as in the CPU evaluate.
  const ir = irFor(where, parsed, record);
  const values: Bound['values'] = [];
  const codes: InputCode[] = [];
  const layouts: (Layout | null)[] = [];
  const arrays: ('float32' | 'other')[] = [];
  const anyNd = ir.inputs.some((name) => isNdObject(record[name]));
  let lengthFrom: string | null = null;
  let n = 1;
  const onDevice = (name: string, buffer: Buffer) => {
    if (buffer.context.device !== device) {
      throw new Error(`${where}: Buffer '${name}' lives on ${buffer.context.device.name}, not on ${device.name}`);
    }
  };
  const bufferNamed = (value: unknown) => (value instanceof Buffer ? `a ${value.type} Buffer` : typeName(value));
  for (const name of ir.inputs) {
    if (!Object.prototype.hasOwnProperty.call(record, name)) {
      throw new ExpressionError(where, `unknown variable '${name}'`, source, firstColumn(parsed.root, name) ?? 1);
    }
    const value = record[name];
    if (isNdObject(value)) {
      const data = value.data as unknown;
      const code = typeof data === 'number' ? null : inputCode(data);
      if (code === null) {
        throw new TypeError(`${where}: variable '${name}'.data must be ${ACCEPTED_ARRAYS}, got ${bufferNamed(data)}`);
      }
      const array = data as Layout['data'];
      if (array instanceof Buffer) onDevice(name, array);
      const length = array instanceof Buffer ? array.length : trueLength(array);
      layouts.push({ data: array, ...readLayout(where, name, value, length) });
      values.push(array);
      codes.push(code);
      arrays.push(code === 'f' ? 'float32' : 'other');
      continue;
    }
    const code = inputCode(value);
    if (code === null) {
      throw new TypeError(
        `${where}: variable '${name}' must be ${ACCEPTED_ARRAYS}, a number or an n-d array ` +
          `{ data, shape, strides?, offset? }, got ${bufferNamed(value)}`,
      );
    }
    if (value instanceof Buffer) onDevice(name, value);
    if (code !== 's') {
      const array = value as Layout['data'];
      const length = array instanceof Buffer ? array.length : trueLength(array);
      if (lengthFrom === null) {
        lengthFrom = name;
        n = length;
      } else if (!anyNd && length !== n) {
        throw new RangeError(
          `${where}: length mismatch: '${lengthFrom}' has ${n} elements but '${name}' has ${length}`,
        );
      }
      arrays.push(code === 'f' ? 'float32' : 'other');
      layouts.push({ data: array, shape: [length], strides: [1], offset: 0 });
    } else {
      layouts.push(null);
    }
    values.push(value as number);
    codes.push(code);
  }
  const bound: Bound = { ir, values, codes, n, real: 'double', shape: null, plan: null, axis: null };
  if (anyNd) {
    const named = ir.inputs.flatMap((name, k) => (layouts[k] ? [{ name, shape: layouts[k]!.shape }] : []));
    const shape = broadcastShapes(where, named);
    const size = sizeOf(shape);
    if (size > MAX_ELEMENTS) {
      throw new RangeError(
        `${where}: the broadcast shape ${formatShape(shape)} has ${size} elements, more than ${MAX_ELEMENTS}`,
      );
    }
    bound.n = size;
    bound.shape = shape;
    if (size > 0) bound.plan = planLayouts(shape, layouts, bound);
  }
  if (parsed.axisReduction) bound.axis = normalizeAxis(where, parsed.axisReduction.axis, bound.shape ?? [bound.n]);
  const auto = (): RealType => (floatPromotion(ir, arrays, codes.includes('s')) === 'float32' ? 'float' : 'double');
  bound.real = precision === 'auto' ? auto() : precision === 'float32' ? 'float' : 'double';
  if (bound.real === 'float') {
    // float32 math on Float64Arrays: round on the host (half the transfer, no fp64 needed on the device).
    codes.forEach((code, k) => {
      if (code === 'd' && values[k] instanceof Float64Array) {
        values[k] = Float32Array.from(values[k] as Float64Array);
        codes[k] = 'f';
      }
    });
  }
  if (!device.fp64 && (bound.real === 'double' || codes.includes('d'))) {
    throw new TypeError(
      `${where}: ${device.name} has no float64 support (cl_khr_fp64); pass { precision: 'float32' } with ` +
        'typed-array inputs to compute in float32',
    );
  }
  return bound;
}

type CompiledKernel = ElementwiseKernel | ReductionKernel;

// Built kernels per (device, context, precision, input types, layout, expression); evicted ones are released.
const kernelCache = new LRUCache<string, CompiledKernel>({ max: 64, dispose: (kernel) => kernel.release() });
const contextIds = new WeakMap<Context, number>();
let nextContextId = 0;

const REDUCE: Record<Reduction, { neutral: string; reduce: string }> = {
  sum: { neutral: '0', reduce: 'a + b' },
  mean: { neutral: '0', reduce: 'a + b' },
  prod: { neutral: '1', reduce: 'a * b' },
  // NaN-propagating, as the CPU's min/max reductions.
  min: { neutral: 'INFINITY', reduce: '(b < a || isnan(b)) ? b : a' },
  max: { neutral: '-INFINITY', reduce: '(b > a || isnan(b)) ? b : a' },
};

// One line of an axis reduction, folded in index order as reduceAxis() in src/lang/ndarray.ts does on the CPU.
const AXIS_STEP: Record<Reduction, string> = {
  sum: 'hp_acc += hp_v;',
  mean: 'hp_acc += hp_v;',
  prod: 'hp_acc *= hp_v;',
  min: 'if (hp_v < hp_acc || isnan(hp_v)) hp_acc = hp_v;',
  max: 'if (hp_v > hp_acc || isnan(hp_v)) hp_acc = hp_v;',
};

/** The accumulator type of reductions: float64 like the CPU's, where the device has it. */
const accumulatorOf = (device: Device): RealType => (device.fp64 ? 'double' : 'float');

// The generated code per lowered program and input signature (generating is cheap, but not free for long sums).
const generatedCache = new WeakMap<Ir, Map<string, GeneratedExpression>>();

function generatedFor(bound: Bound, strided: boolean[]): GeneratedExpression {
  let byInputs = generatedCache.get(bound.ir);
  if (!byInputs) generatedCache.set(bound.ir, (byInputs = new Map()));
  const key = `${bound.real}|${bound.codes.join('')}|${strided.map(Number).join('')}`;
  let generated = byInputs.get(key);
  if (!generated) byInputs.set(key, (generated = generateExpression(bound.ir, bound.codes, bound.real, strided)));
  return generated;
}

function compiledKernel(context: Context, parsed: Parsed, bound: Bound): CompiledKernel {
  let contextId = contextIds.get(context);
  if (contextId === undefined) contextIds.set(context, (contextId = nextContextId++));
  const strided = bound.codes.map((_, k) => bound.plan?.inputs[k] != null);
  const generated = generatedFor(bound, strided);
  // Keyed by the code, not the expression's text: `sum(x, axis=0)` and `sum(x, axis=1)`, or `a+b` and `x+y`,
  // share one kernel.
  const kind = parsed.reduction ?? (parsed.axisReduction ? `axis ${parsed.axisReduction.reduction}` : 'map');
  const cacheKey = `${contextId}|${kind}|${bound.real}|${generated.parameters}|${generated.preamble}`;
  let kernel = kernelCache.get(cacheKey);
  if (kernel) return kernel;
  // Correctly rounded float32 / and sqrt, as the CPU computes them (OpenCL allows 2.5 ulp otherwise).
  const options = bound.real === 'float' ? '-cl-fp32-correctly-rounded-divide-sqrt' : '';
  const preamble = generated.preamble;
  const parameters = (extra: string) => `${generated.parameters}${generated.parameters ? ', ' : ''}${extra}`;
  const acc = accumulatorOf(context.device);
  if (parsed.reduction) {
    kernel = new ReductionKernel(context, {
      type: acc,
      ...REDUCE[parsed.reduction],
      map: `(${acc})${generated.value}`,
      arguments: generated.parameters,
      preamble,
      name: 'hotpath_reduce',
      options,
    });
  } else if (parsed.axisReduction) {
    // Work-item i folds result element i's line: elements base + l * inner for l < extent.
    const { reduction } = parsed.axisReduction;
    const finish = reduction === 'mean' ? `hp_acc / (${acc})hp_extent` : 'hp_acc';
    const operation = `const ulong hp_base = (i / hp_inner) * hp_extent * hp_inner + i % hp_inner;
    ${acc} hp_acc = ${REDUCE[reduction].neutral};
    for (ulong l = 0; l < hp_extent; l++) {
      const ${acc} hp_v = (${acc})${generated.valueAt('hp_base + l * hp_inner')};
      ${AXIS_STEP[reduction]}
    }
    hp_out[i] = ${finish}`;
    const axisParameters = parameters(`const ulong hp_extent, const ulong hp_inner, ${acc} *hp_out`);
    kernel = new ElementwiseKernel(context, axisParameters, operation, { preamble, name: 'hotpath_axis', options });
  } else {
    kernel = new ElementwiseKernel(context, parameters(`${bound.real} *hp_out`), `hp_out[i] = ${generated.value}`, {
      preamble,
      name: 'hotpath_expr',
      options,
    });
  }
  // Strided inputs and hp_layout are read at indices hp_layout gives, checked against their spans in bind().
  if (bound.plan) markSelfIndexed(kernel, [...strided.flatMap((s, k) => (s ? [`x${k}`] : [])), 'hp_layout']);
  kernelCache.set(cacheKey, kernel);
  return kernel;
}

const defaultContexts = new Map<Device, Context>();

function contextFor(where: string, opts: Record<string, unknown>): Context {
  if (opts.context !== undefined) {
    if (!(opts.context instanceof Context))
      throw new TypeError(`${where}: context must be an opencl Context, got ${typeName(opts.context)}`);
    return opts.context;
  }
  if (opts.device !== undefined && !(opts.device instanceof Device)) {
    throw new TypeError(`${where}: device must be a Device from opencl.devices(), got ${typeName(opts.device)}`);
  }
  const device = (opts.device as Device | undefined) ?? defaultDevice();
  let context = defaultContexts.get(device);
  if (!context || context.released) {
    context = createContext(device);
    defaultContexts.set(device, context);
  }
  return context;
}

function checkOut(
  where: string,
  out: unknown,
  bound: Bound,
  parsed: Parsed,
  device: Device,
): Float64Array | Float32Array | Buffer | undefined {
  if (out === undefined) return undefined;
  const reduction = parsed.reduction ?? parsed.axisReduction?.reduction;
  if (reduction) throw new TypeError(`${where}: out cannot be used with the reduction '${reduction}'`);
  const Ctor = bound.real === 'float' ? Float32Array : Float64Array;
  if (out instanceof Buffer) {
    if (out.type !== bound.real)
      throw new TypeError(`${where}: out must be a ${bound.real} Buffer (the result type), got a ${out.type} Buffer`);
    if (out.context.device !== device)
      throw new Error(`${where}: out lives on ${out.context.device.name}, not on ${device.name}`);
  } else if (!(out instanceof Ctor)) {
    throw new TypeError(
      `${where}: out must be a ${Ctor.name} or a ${bound.real} Buffer (the result type for these inputs), ` +
        `got ${typeName(out)}`,
    );
  }
  const length = out instanceof Buffer ? out.length : trueLength(out);
  if (length !== bound.n) throw new RangeError(`${where}: out has ${length} elements, expected ${bound.n}`);
  return out;
}

/** The result of a full reduction over no elements. */
function emptyReduction(reduction: Reduction): number {
  return reduction === 'sum' ? 0 : reduction === 'prod' ? 1 : NaN;
}

function ndResult<T extends OpenclNdResult['data']>(data: T, shape: readonly number[]) {
  return { data, shape: [...shape], strides: cStrides(shape), offset: 0 };
}

/**
 * Evaluates `expr` (the CPU `evaluate`'s language) on an OpenCL device. Resolves to a new typed
 * array (Float32Array when computing in float32), `out`, a number for a reduction, or with n-d inputs
 * `{ data, shape, strides, offset }` as the CPU evaluate returns.
 */
export async function evaluate(
  expr: string,
  vars: Readonly<Record<string, OpenclVariable>>,
  options?: OpenclEvaluateOptions,
): Promise<OpenclEvaluateResult> {
  const where = 'opencl.evaluate';
  const opts = checkKnownOptions(where, options, KNOWN_OPTIONS);
  const context = contextFor(where, opts);
  const parsed = parseExpression(where, expr);
  return run(where, expr, parsed, vars, opts, context, 'auto');
}

const parsedTrees = new WeakMap<Node, Parsed>();

/**
 * @internal What compile(expr).runOpenCL and vectorize(fn, { target: 'opencl' }) run: a tree the CPU
 * path already parsed (`source` is its text, for messages and the kernel cache). Unlike
 * opencl.evaluate, precision defaults to float32 on devices without fp64, so one function runs
 * unchanged on the CPU or any device.
 */
export async function evaluateTree(
  where: string,
  source: string,
  root: Node,
  vars: Readonly<Record<string, OpenclVariable>>,
  options?: OpenclEvaluateOptions,
): Promise<OpenclEvaluateResult> {
  const opts = checkKnownOptions(where, options, KNOWN_OPTIONS);
  const context = contextFor(where, opts);
  let parsed = parsedTrees.get(root);
  if (!parsed) parsedTrees.set(root, (parsed = fromTree(root, source)));
  return run(where, source, parsed, vars, opts, context, context.device.fp64 ? 'auto' : 'float32');
}

async function run(
  where: string,
  source: string,
  parsed: Parsed,
  vars: unknown,
  opts: Record<string, unknown>,
  context: Context,
  defaultPrecision: Precision,
): Promise<OpenclEvaluateResult> {
  const precision =
    opts.precision === undefined
      ? defaultPrecision
      : checkOneOf(where, 'precision', opts.precision, ['auto', 'float32', 'float64']);
  const bound = bind(where, source, parsed, vars, precision, context.device);
  const out = checkOut(where, opts.out, bound, parsed, context.device);
  if (parsed.axisReduction) return runAxis(context, parsed, bound);
  if (parsed.reduction) {
    if (bound.n === 0) return emptyReduction(parsed.reduction);
    const accumulator = await runKernel(context, parsed, bound, []);
    return parsed.reduction === 'mean' ? Number(accumulator) / bound.n : Number(accumulator);
  }
  const result = await runElementwise(context, parsed, bound, out);
  return bound.shape ? ndResult(result, bound.shape) : result;
}

async function runElementwise(
  context: Context,
  parsed: Parsed,
  bound: Bound,
  out: Float64Array | Float32Array | Buffer | undefined,
): Promise<Float64Array | Float32Array | Buffer> {
  const Result = bound.real === 'float' ? Float32Array : Float64Array;
  if (bound.n === 0) return out ?? new Result(0);
  if (out instanceof Buffer) {
    await runKernel(context, parsed, bound, [out]);
    return out;
  }
  const target = context.buffer(bound.n * Result.BYTES_PER_ELEMENT, { type: bound.real });
  try {
    await runKernel(context, parsed, bound, [target]);
    return await target.read(out ?? new Result(bound.n));
  } finally {
    target.release();
  }
}

/** An `axis=` reduction: a Float64Array of the reduced shape (a number when that has no dimensions). */
async function runAxis(context: Context, parsed: Parsed, bound: Bound): Promise<OpenclEvaluateResult> {
  const { reduction } = parsed.axisReduction!;
  const shape = bound.shape ?? [bound.n];
  const axis = bound.axis!;
  const extent = shape[axis];
  const reducedShape = shape.filter((_, d) => d !== axis);
  const size = sizeOf(reducedShape);
  let result = new Float64Array(size);
  if (extent === 0) result.fill(reduction === 'sum' ? 0 : reduction === 'prod' ? 1 : NaN);
  else if (size > 0) {
    const acc = accumulatorOf(context.device);
    const target = context.buffer(size * (acc === 'double' ? 8 : 4), { type: acc });
    try {
      const inner = BigInt(sizeOf(shape.slice(axis + 1)));
      await runKernel(context, parsed, bound, [BigInt(extent), inner, target], size);
      result =
        acc === 'double' ? await target.read(result) : Float64Array.from(await target.read(new Float32Array(size)));
    } finally {
      target.release();
    }
  }
  return reducedShape.length === 0 ? result[0] : ndResult(result, reducedShape);
}

/**
 * Uploads the host inputs (and hp_layout), runs the kernel over `items` work-items (default: every element)
 * with `extra` arguments after the inputs, and resolves when it is done (to a full reduction's accumulator).
 */
async function runKernel(
  context: Context,
  parsed: Parsed,
  bound: Bound,
  extra: (Buffer | bigint)[],
  items = bound.n,
): Promise<number | bigint | void> {
  const kernel = compiledKernel(context, parsed, bound);
  const owned: Buffer[] = [];
  try {
    const pending: Promise<unknown>[] = [];
    const upload = (value: Float64Array | Float32Array | Int32Array | BigInt64Array) => {
      const buffer = context.buffer(value.byteLength, { type: arrayScalarType(value), access: 'read_only' });
      owned.push(buffer);
      pending.push(buffer.write(value));
      return buffer;
    };
    const args: (number | Buffer | bigint)[] = bound.values.map((value) =>
      typeof value === 'number' || value instanceof Buffer ? value : upload(value),
    );
    const plan = bound.plan;
    if (plan) {
      const strided = plan.inputs.flatMap((input) => (input ? [input] : []));
      args.push(upload(layoutWords(plan.shape, strided)));
    }
    // The uploads were enqueued first; the in-order queue runs the kernel after them once it is built.
    const [result] = await Promise.all([kernel.run([...args, ...extra], { n: items }), ...pending]);
    return result;
  } finally {
    for (const buffer of owned) buffer.release();
  }
}

registerDeviceEvaluator(evaluateTree as DeviceEvaluator);
