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
import { LoweringError, bindingFor, lower, variableNames, type Ir } from '../lang/ir.js';
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
import { type TypedIr, checkAxisOperand, typeProgram } from '../lang/typed.js';
import {
  type ElementArray,
  INT64_MAX,
  INT64_MIN,
  KIND_OF_CODE,
  type Kind,
  RESULT_ARRAY,
  arrayCode,
} from '../lang/types.js';
import {
  type GeneratedExpression,
  type KernelInput,
  type KindTypes,
  type RealType,
  cType,
  generateExpression,
  layoutWords,
  typesUsed,
} from './codegen.js';
import { Buffer, Context, createContext, defaultDevice, Device } from './runtime.js';
import { type ScalarType, type TypedArray, arrayScalarType } from './types.js';
import { ElementwiseKernel, ReductionKernel, markSelfIndexed } from './snippets.js';

export type Precision = 'auto' | 'float32' | 'float64';

/** A result or `out` array: the typed array of the result's kind (bool: Uint8Array of 0/1). */
export type OpenclResultArray = Float64Array | Float32Array | Int32Array | BigInt64Array | Uint8Array;

export interface OpenclEvaluateOptions {
  /** Device to run on (a context per device is created once and kept). Default: defaultDevice(). */
  device?: Device;
  /** Context to run in instead (its device is used). */
  context?: Context;
  /**
   * 'auto' (default): the CPU evaluate's kinds per operation (numexpr's rules: float64 needs a device
   * with fp64). 'float32': every float operation in float32 (Float64Array inputs rounded on the host);
   * 'float64': every float operation in float64. Integer and bool operations keep their kinds.
   */
  precision?: Precision;
  /** Where to write an elementwise result: the result kind's typed array, or a Buffer of its type, n elements. */
  out?: OpenclResultArray | Buffer;
}

/** An array the device reads: any typed array the CPU evaluate reads, or a Buffer already on the device. */
export type OpenclArray = ElementArray | Buffer;

/** An n-d input (the CPU evaluate's NdArray), whose data may also be a Buffer on the device. */
export interface OpenclNdArray {
  data: OpenclArray;
  shape: readonly number[];
  /** Elements between neighbours along each dimension; may be negative or 0. Default: C order. */
  strides?: readonly number[];
  /** Index in `data` of the first element. Default 0. */
  offset?: number;
  /** 'bool': `data` (a Uint8Array or uchar Buffer) holds booleans as 0/1. */
  dtype?: 'bool';
}

/** An n-d result: C order, offset 0; `data` is `out` when given (a Buffer stays on the device). */
export interface OpenclNdResult {
  data: OpenclResultArray | Buffer;
  shape: number[];
  strides: number[];
  offset: number;
}

export type OpenclVariable =
  OpenclArray | number | bigint | boolean | boolean[] | { data: Uint8Array | Buffer; dtype: 'bool' } | OpenclNdArray;
/**
 * A flat array or Buffer (flat inputs), an n-d result (any n-d input), a number or bigint (a full reduction, or
 * an axis reduction down to 0 dimensions) or, for `axis=` reductions, an n-d result holding a Float64Array.
 */
export type OpenclEvaluateResult = OpenclResultArray | Buffer | number | bigint | OpenclNdResult;

const KNOWN_OPTIONS = ['device', 'context', 'precision', 'out'];
const ACCEPTED_ARRAYS =
  'a Float64Array, Float32Array, Int32Array, Int16Array, Int8Array, Uint32Array, Uint16Array, Uint8Array, ' +
  "Uint8ClampedArray, BigInt64Array, a Buffer, { data: Uint8Array or uchar Buffer, dtype: 'bool' }";
/** The kind each Buffer element type computes in (as the typed array of that type). */
const KIND_OF_BUFFER: Record<ScalarType, Kind> = {
  double: 'float64',
  float: 'float32',
  int: 'int32',
  short: 'int32',
  char: 'int32',
  ushort: 'int32',
  uchar: 'int32',
  uint: 'int64',
  long: 'int64',
  ulong: 'int64',
};

/** A host array or Buffer the kernel reads, as it reads it. */
type DeviceArray = Exclude<TypedArray, BigUint64Array | Uint8ClampedArray> | Buffer;

/** How one variable enters the kernel: its kind, and its array (with the C element type) or scalar value. */
type Classified =
  { kind: Kind; array: DeviceArray; element: ScalarType } | { kind: Kind; scalar: number | bigint; element: null };

function isBoolObject(value: unknown): value is { data: unknown; dtype: 'bool' } {
  return typeof value === 'object' && value !== null && (value as { dtype?: unknown }).dtype === 'bool';
}

/** An array (typed array or Buffer) as the kernel reads it, or null when it is none the device takes. */
function classifyArray(data: unknown, bool: boolean): Classified | null {
  if (data instanceof Buffer) {
    if (bool) return data.type === 'uchar' ? { kind: 'bool', array: data, element: 'uchar' } : null;
    if (data.type === 'ulong') return null; // numexpr reads uint64 as int64 after a range check: not on the device
    return { kind: KIND_OF_BUFFER[data.type], array: data, element: data.type };
  }
  const code = arrayCode(data);
  if (code === null) return null;
  // A Uint8ClampedArray holds uchar, as a Uint8Array over the same memory.
  const array = (
    data instanceof Uint8ClampedArray ? new Uint8Array(data.buffer, data.byteOffset, data.length) : data
  ) as Exclude<DeviceArray, Buffer>;
  if (bool) return array instanceof Uint8Array ? { kind: 'bool', array, element: 'uchar' } : null;
  return { kind: KIND_OF_CODE[code], array, element: arrayScalarType(array) };
}

/** Any variable: a scalar, an array, booleans, or a bool object (n-d objects are read by bind()). */
function classify(where: string, name: string, value: unknown): Classified | null {
  if (typeof value === 'number') return { kind: 'float64', scalar: value, element: null };
  if (typeof value === 'boolean') return { kind: 'bool', scalar: Number(value), element: null };
  if (typeof value === 'bigint') {
    if (value < INT64_MIN || value > INT64_MAX) {
      throw new RangeError(`${where}: variable '${name}' (${value}) does not fit in int64`);
    }
    return { kind: 'int64', scalar: value, element: null };
  }
  if (Array.isArray(value) && value.every((x) => typeof x === 'boolean')) {
    return { kind: 'bool', array: Uint8Array.from(value as boolean[], Number), element: 'uchar' };
  }
  if (isBoolObject(value)) return classifyArray(value.data, true);
  return classifyArray(value, false);
}

function describe(value: unknown): string {
  return value instanceof Buffer ? `a ${value.type} Buffer` : typeName(value);
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
  /** Typed programs per (Binding, input kinds). */
  typed: Map<string, TypedIr>;
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
    const body = (root as CallNode).args[0];
    return { root, body, source, names, irs: new Map(), typed: new Map(), reduction: null, axisReduction };
  }
  const reduction = root.kind === 'call' && isReduction(root.fn) ? root.fn : null;
  return { root, body: root, source, names, irs: new Map(), typed: new Map(), reduction, axisReduction: null };
}

/** Integer and bool variables (the kinds in which `%` by zero is 0): decides how the program is lowered. */
function isIntegerInput(value: unknown): boolean {
  let classified: Classified | null = null;
  try {
    classified = isNdObject(value) ? classifyArray(value.data, isBoolObject(value)) : classify('', '', value);
  } catch {
    return false; // an out-of-range bigint: bind() reports it
  }
  return classified !== null && classified.kind !== 'float32' && classified.kind !== 'float64';
}

/** The program lowered for these variables: which constants they shadow, which inputs are integers. */
function irFor(where: string, parsed: Parsed, vars: Readonly<Record<string, unknown>>): { ir: Ir; key: string } {
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
  return { ir, key };
}

/** The lowered program typed for inputs of `kinds` (an axis reduction's values widened to float64, as the CPU's). */
function typedFor(where: string, parsed: Parsed, lowered: { ir: Ir; key: string }, kinds: readonly Kind[]): TypedIr {
  const key = `${lowered.key}|${kinds.join()}`;
  let typed = parsed.typed.get(key);
  if (!typed) {
    try {
      typed = typeProgram(lowered.ir, kinds, [parsed.axisReduction !== null]);
    } catch (error) {
      if (!(error instanceof LoweringError)) throw error;
      throw new ExpressionError(where, error.problem, parsed.source, error.column);
    }
    parsed.typed.set(key, typed);
  }
  const axis = parsed.axisReduction;
  if (axis) checkAxisOperand(where, typed, 0, `${axis.reduction}(..., axis=${axis.axis})`);
  return typed;
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
type Layout = Omit<View, 'data'> & { data: DeviceArray };

/** How the kernel reads the inputs when any is n-d: the collapsed result shape and each strided input's layout. */
interface StridedPlan {
  /** The result's shape with extent-1 dimensions dropped and contiguous neighbours merged. */
  shape: number[];
  /** Per input: its offset and strides over `shape` when the kernel indexes them, null for x[i] and scalars. */
  inputs: ({ offset: number; strides: number[] } | null)[];
}

interface Bound {
  typed: TypedIr;
  /** Per input: a number or bigint, a Buffer, or the host elements to upload (the part of the data it reads). */
  values: (DeviceArray | number | bigint)[];
  /** Per input: its kind and how the kernel receives it. */
  inputs: KernelInput[];
  n: number;
  /** The C types of the float kinds (precision). */
  floats: KindTypes;
  /** The C type of the output values (an elementwise result's element type). */
  result: ScalarType;
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

const FLOAT_TYPES: Record<Precision, KindTypes> = {
  auto: { float32: 'float', float64: 'double' },
  float32: { float32: 'float', float64: 'float' },
  float64: { float32: 'double', float64: 'double' },
};

/** Orders and checks the variables, and types the program for them (the CPU evaluate's kinds). */
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
  const lowered = irFor(where, parsed, record);
  const values: Bound['values'] = [];
  const inputs: KernelInput[] = [];
  const layouts: (Layout | null)[] = [];
  const anyNd = lowered.ir.inputs.some((name) => isNdObject(record[name]));
  let lengthFrom: string | null = null;
  let n = 1;
  for (const name of lowered.ir.inputs) {
    if (!Object.prototype.hasOwnProperty.call(record, name)) {
      throw new ExpressionError(where, `unknown variable '${name}'`, source, firstColumn(parsed.root, name) ?? 1);
    }
    const value = record[name];
    const nd = isNdObject(value);
    const classified = nd ? classifyArray(value.data, isBoolObject(value)) : classify(where, name, value);
    if (classified === null) {
      const [label, got] = nd ? [`variable '${name}'.data`, value.data] : [`variable '${name}'`, value];
      const more = nd ? '' : ', a number, a bigint, a boolean, an Array of booleans or an n-d array';
      throw new TypeError(`${where}: ${label} must be ${ACCEPTED_ARRAYS}${more}, got ${describe(got)}`);
    }
    inputs.push({ kind: classified.kind, element: classified.element });
    if (classified.element === null) {
      values.push(classified.scalar);
      layouts.push(null);
      continue;
    }
    const array = classified.array;
    values.push(array);
    if (array instanceof Buffer && array.context.device !== device) {
      throw new Error(`${where}: Buffer '${name}' lives on ${array.context.device.name}, not on ${device.name}`);
    }
    const length = array instanceof Buffer ? array.length : trueLength(array);
    if (nd) {
      layouts.push({ data: array, ...readLayout(where, name, value, length) });
      continue;
    }
    if (lengthFrom === null) {
      lengthFrom = name;
      n = length;
    } else if (!anyNd && length !== n) {
      throw new RangeError(`${where}: length mismatch: '${lengthFrom}' has ${n} elements but '${name}' has ${length}`);
    }
    layouts.push({ data: array, shape: [length], strides: [1], offset: 0 });
  }
  const typed = typedFor(
    where,
    parsed,
    lowered,
    inputs.map((input) => input.kind),
  );
  const floats = FLOAT_TYPES[precision];
  const output = typed.values[typed.outputs[0].value].type;
  const bound: Bound = {
    typed,
    values,
    inputs,
    n,
    floats,
    result: cType(output, floats),
    shape: null,
    plan: null,
    axis: null,
  };
  if (anyNd) {
    const named = lowered.ir.inputs.flatMap((name, k) => (layouts[k] ? [{ name, shape: layouts[k]!.shape }] : []));
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
  if (floats.float64 === 'float') {
    // float32 math on float64 arrays: round on the host (half the transfer, no fp64 needed on the device).
    values.forEach((value, k) => {
      if (value instanceof Float64Array) {
        values[k] = Float32Array.from(value);
        inputs[k] = { kind: inputs[k].kind, element: 'float' };
      }
    });
  }
  checkDeviceTypes(where, device, bound, parsed);
  return bound;
}

/** A TypeError naming what the device lacks when the program needs a type it cannot compute in. */
function checkDeviceTypes(where: string, device: Device, bound: Bound, parsed: Parsed): void {
  const used = typesUsed(bound.typed, bound.floats);
  for (const input of bound.inputs) if (input.element) used.add(input.element);
  if (!device.fp64 && used.has('double')) {
    throw new TypeError(
      `${where}: ${device.name} has no float64 support (cl_khr_fp64); pass { precision: 'float32' } with ` +
        'typed-array inputs to compute in float32',
    );
  }
  // 64-bit integers are core in OpenCL's full profile, an extension (cles_khr_int64) in the embedded one.
  const reducesIntegers =
    parsed.reduction === 'sum' && bound.typed.values[bound.typed.outputs[0].value].type === 'bool';
  if (!device.int64 && (used.has('long') || used.has('ulong') || reducesIntegers)) {
    throw new TypeError(
      `${where}: ${device.name} has no 64-bit integers (an embedded-profile device without cles_khr_int64), ` +
        'which these inputs need (int64 values, BigInt64Array or Uint32Array data, or a count of booleans)',
    );
  }
}

type CompiledKernel = ElementwiseKernel | ReductionKernel;

// Built kernels per (device, context, precision, input types, layout, expression); evicted ones are released.
const kernelCache = new LRUCache<string, CompiledKernel>({ max: 64, dispose: (kernel) => kernel.release() });
const contextIds = new WeakMap<Context, number>();
let nextContextId = 0;

/** A full reduction's identity and combining step in its accumulator type: integers wrap, floats keep NaN. */
function reduceSpec(reduction: Reduction, acc: ScalarType): { neutral: string; reduce: string } {
  const integer = acc === 'int' || acc === 'long';
  const sum = reduction === 'sum' || reduction === 'mean';
  if (sum || reduction === 'prod') {
    const op = sum ? '+' : '*';
    return { neutral: sum ? '0' : '1', reduce: integer ? `(${acc})((u${acc})a ${op} (u${acc})b)` : `a ${op} b` };
  }
  const min = reduction === 'min';
  const neutral = integer ? `${acc === 'int' ? 'INT' : 'LONG'}_${min ? 'MAX' : 'MIN'}` : `${min ? '' : '-'}INFINITY`;
  // NaN-propagating on floats, as the CPU's min/max reductions.
  const nan = integer ? '' : ' || isnan(b)';
  return { neutral, reduce: `(b ${min ? '<' : '>'} a${nan}) ? b : a` };
}

// One line of an axis reduction (its values are float: typeProgram widens them), folded in index order as
// reduceAxis() in src/lang/ndarray.ts does on the CPU.
const AXIS_STEP: Record<Reduction, string> = {
  sum: 'hp_acc += hp_v;',
  mean: 'hp_acc += hp_v;',
  prod: 'hp_acc *= hp_v;',
  min: 'if (hp_v < hp_acc || isnan(hp_v)) hp_acc = hp_v;',
  max: 'if (hp_v > hp_acc || isnan(hp_v)) hp_acc = hp_v;',
};

/** The accumulator type of float reductions: float64 like the CPU's, where the device has it. */
const floatAccumulator = (device: Device): RealType => (device.fp64 ? 'double' : 'float');

/**
 * A full reduction's accumulator: float kinds in floatAccumulator, int32 in int and int64 in long (both
 * wrapping, as the CPU's), a sum of booleans in long (a count).
 */
function accumulatorOf(device: Device, bound: Bound): ScalarType {
  if (bound.result === 'float' || bound.result === 'double') return floatAccumulator(device);
  return bound.result === 'int' ? 'int' : 'long';
}

// The generated code per typed program and input signature (generating is cheap, but not free for long sums).
const generatedCache = new WeakMap<TypedIr, Map<string, GeneratedExpression>>();

function generatedFor(bound: Bound, strided: boolean[]): GeneratedExpression {
  let byInputs = generatedCache.get(bound.typed);
  if (!byInputs) generatedCache.set(bound.typed, (byInputs = new Map()));
  const elements = bound.inputs.map((input) => input.element ?? 's').join();
  const key = `${bound.floats.float32}|${bound.floats.float64}|${elements}|${strided.map(Number).join('')}`;
  let generated = byInputs.get(key);
  if (!generated) {
    generated = generateExpression(bound.typed, bound.inputs, bound.floats, strided);
    byInputs.set(key, generated);
  }
  return generated;
}

function compiledKernel(context: Context, parsed: Parsed, bound: Bound): CompiledKernel {
  let contextId = contextIds.get(context);
  if (contextId === undefined) contextIds.set(context, (contextId = nextContextId++));
  const strided = bound.inputs.map((_, k) => bound.plan?.inputs[k] != null);
  const generated = generatedFor(bound, strided);
  // Keyed by the code, not the expression's text: `sum(x, axis=0)` and `sum(x, axis=1)`, or `a+b` and `x+y`,
  // share one kernel.
  const kind = parsed.reduction ?? (parsed.axisReduction ? `axis ${parsed.axisReduction.reduction}` : 'map');
  const cacheKey = `${contextId}|${kind}|${generated.parameters}|${generated.preamble}`;
  let kernel = kernelCache.get(cacheKey);
  if (kernel) return kernel;
  // Correctly rounded float32 / and sqrt, as the CPU computes them (OpenCL allows 2.5 ulp otherwise).
  const floats = bound.floats.float32 === 'float' || bound.floats.float64 === 'float';
  const options = floats ? '-cl-fp32-correctly-rounded-divide-sqrt' : '';
  const preamble = generated.preamble;
  const parameters = (extra: string) => `${generated.parameters}${generated.parameters ? ', ' : ''}${extra}`;
  if (parsed.reduction) {
    const acc = accumulatorOf(context.device, bound);
    kernel = new ReductionKernel(context, {
      type: acc,
      ...reduceSpec(parsed.reduction, acc),
      map: `(${acc})${generated.value}`,
      arguments: generated.parameters,
      preamble,
      name: 'hotpath_reduce',
      options,
    });
  } else if (parsed.axisReduction) {
    // Work-item i folds result element i's line: elements base + l * inner for l < extent.
    const { reduction } = parsed.axisReduction;
    const acc = floatAccumulator(context.device);
    const finish = reduction === 'mean' ? `hp_acc / (${acc})hp_extent` : 'hp_acc';
    const operation = `const ulong hp_base = (i / hp_inner) * hp_extent * hp_inner + i % hp_inner;
    ${acc} hp_acc = ${reduceSpec(reduction, acc).neutral};
    for (ulong l = 0; l < hp_extent; l++) {
      const ${acc} hp_v = (${acc})${generated.valueAt('hp_base + l * hp_inner')};
      ${AXIS_STEP[reduction]}
    }
    hp_out[i] = ${finish}`;
    const axisParameters = parameters(`const ulong hp_extent, const ulong hp_inner, ${acc} *hp_out`);
    kernel = new ElementwiseKernel(context, axisParameters, operation, { preamble, name: 'hotpath_axis', options });
  } else {
    kernel = new ElementwiseKernel(context, parameters(`${bound.result} *hp_out`), `hp_out[i] = ${generated.value}`, {
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

/** The typed array of each C result type (bool: Uint8Array of 0/1, as the CPU's RESULT_ARRAY). */
const RESULT_OF_TYPE: Partial<Record<ScalarType, new (n: number) => OpenclResultArray>> = {
  uchar: RESULT_ARRAY.bool,
  int: RESULT_ARRAY.int32,
  long: RESULT_ARRAY.int64,
  float: RESULT_ARRAY.float32,
  double: RESULT_ARRAY.float64,
};

function checkOut(
  where: string,
  out: unknown,
  bound: Bound,
  parsed: Parsed,
  device: Device,
): OpenclResultArray | Buffer | undefined {
  if (out === undefined) return undefined;
  const reduction = parsed.reduction ?? parsed.axisReduction?.reduction;
  if (reduction) throw new TypeError(`${where}: out cannot be used with the reduction '${reduction}'`);
  const Ctor = RESULT_OF_TYPE[bound.result]!;
  if (out instanceof Buffer) {
    if (out.type !== bound.result)
      throw new TypeError(`${where}: out must be a ${bound.result} Buffer (the result type), got a ${out.type} Buffer`);
    if (out.context.device !== device)
      throw new Error(`${where}: out lives on ${out.context.device.name}, not on ${device.name}`);
  } else if (!(out instanceof Ctor)) {
    throw new TypeError(
      `${where}: out must be a ${Ctor.name} or a ${bound.result} Buffer (the result type for these inputs), ` +
        `got ${typeName(out)}`,
    );
  }
  const length = out instanceof Buffer ? out.length : trueLength(out);
  if (length !== bound.n) throw new RangeError(`${where}: out has ${length} elements, expected ${bound.n}`);
  return out;
}

/** The result of a full reduction over no elements, as the CPU's (int64 sums and products are bigints). */
function emptyReduction(reduction: Reduction, bound: Bound): number | bigint {
  const int64 = bound.result === 'long';
  if (reduction === 'sum') return int64 ? 0n : 0;
  if (reduction === 'prod') return int64 ? 1n : 1;
  return NaN;
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
    if (bound.n === 0) return emptyReduction(parsed.reduction, bound);
    const accumulator = (await runKernel(context, parsed, bound, [])) as number | bigint;
    if (parsed.reduction === 'mean') return Number(accumulator) / bound.n;
    // int64 results are bigints (as the CPU's); a count of booleans is a number.
    return bound.result === 'long' ? BigInt.asIntN(64, BigInt(accumulator)) : Number(accumulator);
  }
  const result = await runElementwise(context, parsed, bound, out);
  return bound.shape ? ndResult(result, bound.shape) : result;
}

async function runElementwise(
  context: Context,
  parsed: Parsed,
  bound: Bound,
  out: OpenclResultArray | Buffer | undefined,
): Promise<OpenclResultArray | Buffer> {
  const Result = RESULT_OF_TYPE[bound.result]!;
  if (bound.n === 0) return out ?? new Result(0);
  if (out instanceof Buffer) {
    await runKernel(context, parsed, bound, [out]);
    return out;
  }
  const bytes = (Result as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  const target = context.buffer(bound.n * bytes, { type: bound.result });
  try {
    await runKernel(context, parsed, bound, [target]);
    return (await target.read(out ?? new Result(bound.n))) as OpenclResultArray;
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
    const acc = floatAccumulator(context.device);
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
    const upload = (value: Exclude<DeviceArray, Buffer>) => {
      const buffer = context.buffer(value.byteLength, { type: arrayScalarType(value), access: 'read_only' });
      owned.push(buffer);
      pending.push(buffer.write(value));
      return buffer;
    };
    const args: (number | bigint | Buffer)[] = bound.values.map((value) =>
      typeof value === 'number' || typeof value === 'bigint' || value instanceof Buffer ? value : upload(value),
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
