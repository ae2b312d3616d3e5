// opencl.evaluate: the CPU `evaluate`'s expression language (same parser and SSA lowering) run as a
// generated OpenCL kernel. Elementwise expressions become an ElementwiseKernel, an outermost
// sum/prod/min/max/mean a ReductionKernel; both are cached per (expression, input types,
// precision, device). Inputs may be typed arrays (uploaded, result downloaded) or Buffers already
// on the device (then `out` may be a Buffer too and nothing crosses the bus).
import { LRUCache } from 'lru-cache';
import { checkKnownOptions } from '../core/options.js';
import { checkOneOf, typeName } from '../core/validate.js';
import { ExpressionError, forEachNode, isReduction, type Node, type Reduction } from '../lang/ast.js';
import { LoweringError, bindingFor, floatPromotion, lower, variableNames, type Ir } from '../lang/ir.js';
import { registerDeviceEvaluator, type DeviceEvaluator } from '../lang/device.js';
import { parse } from '../lang/parser.js';
import { arrayInputCode } from '../lang/bind.js';
import { generateExpression, type InputCode, type RealType } from './codegen.js';
import { Buffer, Context, createContext, defaultDevice, Device } from './runtime.js';
import { ElementwiseKernel, ReductionKernel } from './snippets.js';

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

export type OpenclVariable = Float64Array | Float32Array | Int32Array | number | Buffer;
export type OpenclEvaluateResult = Float64Array | Float32Array | Buffer | number;

const KNOWN_OPTIONS = ['device', 'context', 'precision', 'out'];
const codeOfBufferType: Partial<Record<string, InputCode>> = { double: 'd', float: 'f', int: 'i' };

function inputCode(value: unknown): InputCode | null {
  if (value instanceof Buffer) return codeOfBufferType[value.type] ?? null;
  return arrayInputCode(value);
}

interface Parsed {
  root: Node;
  /** The text the tree was parsed from (error carets point into it). */
  source: string;
  /** Every name the expression reads, `pi` and `e` included (each is the constant unless vars bind it). */
  names: string[];
  /** Lowered programs per Binding of the variables (see CompiledExpressions in expr/program.ts). */
  irs: Map<string, Ir>;
  reduction: Reduction | null;
}

const parsedCache = new LRUCache<string, Parsed>({ max: 256 });

function fromTree(root: Node, source: string): Parsed {
  const reduction = root.kind === 'call' && isReduction(root.fn) ? root.fn : null;
  return { root, source, names: variableNames([{ root }]), irs: new Map(), reduction };
}

const isIntegerInput = (value: unknown) => value instanceof Int32Array || (value instanceof Buffer && value.type === 'int');

/** The program lowered for these variables: which constants they shadow, which inputs are integers. */
function irFor(where: string, parsed: Parsed, vars: Readonly<Record<string, unknown>>): Ir {
  const { key, binding } = bindingFor(parsed.names, vars, isIntegerInput);
  let ir = parsed.irs.get(key);
  if (!ir) {
    try {
      ir = lower([{ name: 'result', root: parsed.root }], binding);
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

interface Bound {
  ir: Ir;
  values: OpenclVariable[];
  codes: InputCode[];
  n: number;
  real: RealType;
}

/** Orders and checks the variables, and picks the compute type (the CPU evaluate's promotion table). */
function bind(where: string, source: string, parsed: Parsed, vars: unknown, precision: Precision, device: Device): Bound {
  if (vars === null || typeof vars !== 'object' || Array.isArray(vars)) {
    throw new TypeError(`${where}: variables must be an object mapping names to typed arrays, Buffers or numbers, got ${typeName(vars)}`);
  }
  const record = vars as Record<string, unknown>;
  // A variable named like a constant (pi, e) wins over the constant, as in the CPU evaluate.
  const ir = irFor(where, parsed, record);
  const values: OpenclVariable[] = [];
  const codes: InputCode[] = [];
  const arrays: ('float32' | 'other')[] = [];
  let lengthFrom: string | null = null;
  let n = 1;
  for (const name of ir.inputs) {
    if (!Object.prototype.hasOwnProperty.call(record, name)) {
      throw new ExpressionError(where, `unknown variable '${name}'`, source, firstColumn(parsed.root, name) ?? 1);
    }
    const value = record[name];
    const code = inputCode(value);
    if (code === null) {
      throw new TypeError(`${where}: variable '${name}' must be a Float64Array, Float32Array, Int32Array, a double/float/int Buffer or a number, got ${value instanceof Buffer ? `a ${value.type} Buffer` : typeName(value)}`);
    }
    if (value instanceof Buffer && value.context.device !== device) {
      throw new Error(`${where}: Buffer '${name}' lives on ${value.context.device.name}, not on ${device.name}`);
    }
    if (code !== 's') {
      const length = (value as Float64Array | Buffer).length;
      if (lengthFrom === null) {
        lengthFrom = name;
        n = length;
      } else if (length !== n) {
        throw new RangeError(`${where}: length mismatch: '${lengthFrom}' has ${n} elements but '${name}' has ${length}`);
      }
      arrays.push(code === 'f' ? 'float32' : 'other');
    }
    values.push(value as OpenclVariable);
    codes.push(code);
  }
  const auto = (): RealType => (floatPromotion(ir, arrays, codes.includes('s')) === 'float32' ? 'float' : 'double');
  const real: RealType = precision === 'auto' ? auto() : precision === 'float32' ? 'float' : 'double';
  if (real === 'float') {
    // float32 math on Float64Arrays: round on the host (half the transfer, no fp64 needed on the device).
    codes.forEach((code, k) => {
      if (code === 'd' && values[k] instanceof Float64Array) {
        values[k] = Float32Array.from(values[k] as Float64Array);
        codes[k] = 'f';
      }
    });
  }
  if (!device.fp64 && (real === 'double' || codes.includes('d'))) {
    throw new Error(
      `${where}: ${device.name} has no float64 support (cl_khr_fp64); pass { precision: 'float32' } with typed-array inputs to compute in float32`,
    );
  }
  return { ir, values, codes, n, real };
}

type CompiledKernel = ElementwiseKernel | ReductionKernel;

// Built kernels per (device, context, precision, input types, expression); evicted ones are released.
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

function compiledKernel(context: Context, key: string, parsed: Parsed, bound: Bound): CompiledKernel {
  let contextId = contextIds.get(context);
  if (contextId === undefined) contextIds.set(context, (contextId = nextContextId++));
  const cacheKey = `${contextId}|${bound.real}|${bound.codes.join('')}|${bound.ir.inputs.join()}|${key}`;
  let kernel = kernelCache.get(cacheKey);
  if (!kernel) {
    const generated = generateExpression(bound.ir, bound.codes, bound.real);
    // Correctly rounded float32 / and sqrt, as the CPU computes them (OpenCL allows 2.5 ulp otherwise).
    const options = bound.real === 'float' ? '-cl-fp32-correctly-rounded-divide-sqrt' : '';
    if (parsed.reduction) {
      // Float64 accumulators like the CPU's, where the device has them.
      const type = context.device.fp64 ? 'double' : 'float';
      kernel = new ReductionKernel(context, {
        type,
        ...REDUCE[parsed.reduction],
        map: `(${type})${generated.value}`,
        arguments: generated.parameters,
        preamble: generated.preamble,
        name: 'hotpath_reduce',
        options,
      });
    } else {
      const parameters = `${generated.parameters}${generated.parameters ? ', ' : ''}${bound.real} *hp_out`;
      kernel = new ElementwiseKernel(context, parameters, `hp_out[i] = ${generated.value}`, {
        preamble: generated.preamble,
        name: 'hotpath_expr',
        options,
      });
    }
    kernelCache.set(cacheKey, kernel);
  }
  return kernel;
}

const defaultContexts = new Map<Device, Context>();

function contextFor(where: string, opts: Record<string, unknown>): Context {
  if (opts.context !== undefined) {
    if (!(opts.context instanceof Context)) throw new TypeError(`${where}: context must be an opencl Context, got ${typeName(opts.context)}`);
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

function checkOut(where: string, out: unknown, bound: Bound, reduction: Reduction | null, device: Device): Float64Array | Float32Array | Buffer | undefined {
  if (out === undefined) return undefined;
  if (reduction) throw new TypeError(`${where}: out cannot be used with the reduction '${reduction}'`);
  const Ctor = bound.real === 'float' ? Float32Array : Float64Array;
  if (out instanceof Buffer) {
    if (out.type !== bound.real) throw new TypeError(`${where}: out must be a ${bound.real} Buffer (the result type), got a ${out.type} Buffer`);
    if (out.context.device !== device) throw new Error(`${where}: out lives on ${out.context.device.name}, not on ${device.name}`);
  } else if (!(out instanceof Ctor)) {
    throw new TypeError(`${where}: out must be a ${Ctor.name} or a ${bound.real} Buffer (the result type for these inputs), got ${typeName(out)}`);
  }
  if (out.length !== bound.n) throw new RangeError(`${where}: out has ${out.length} elements, expected ${bound.n}`);
  return out;
}

function emptyResult(reduction: Reduction | null, real: RealType): OpenclEvaluateResult {
  if (!reduction) return real === 'float' ? new Float32Array(0) : new Float64Array(0);
  return reduction === 'sum' ? 0 : reduction === 'prod' ? 1 : NaN;
}

/**
 * Evaluates `expr` (the CPU `evaluate`'s language) on an OpenCL device. Resolves to a new typed
 * array (Float32Array when computing in float32), `out`, or a number for a reduction.
 */
export async function evaluate(expr: string, vars: Readonly<Record<string, OpenclVariable>>, options?: OpenclEvaluateOptions): Promise<OpenclEvaluateResult> {
  const where = 'opencl.evaluate';
  const opts = checkKnownOptions(where, options, KNOWN_OPTIONS);
  const context = contextFor(where, opts);
  const parsed = parseExpression(where, expr);
  return run(where, `expr:${expr}`, expr, parsed, vars, opts, context, 'auto');
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
  return run(where, `tree:${source}`, source, parsed, vars, opts, context, context.device.fp64 ? 'auto' : 'float32');
}

async function run(
  where: string,
  key: string,
  source: string,
  parsed: Parsed,
  vars: unknown,
  opts: Record<string, unknown>,
  context: Context,
  defaultPrecision: Precision,
): Promise<OpenclEvaluateResult> {
  const precision = opts.precision === undefined ? defaultPrecision : checkOneOf(where, 'precision', opts.precision, ['auto', 'float32', 'float64']);
  const bound = bind(where, source, parsed, vars, precision, context.device);
  const out = checkOut(where, opts.out, bound, parsed.reduction, context.device);
  if (bound.n === 0) return out ?? emptyResult(parsed.reduction, bound.real);
  const kernel = compiledKernel(context, key, parsed, bound);
  const owned: Buffer[] = [];
  try {
    const pending: Promise<unknown>[] = [];
    const args = bound.values.map((value) => {
      if (typeof value === 'number' || value instanceof Buffer) return value;
      const type = value instanceof Float64Array ? 'double' : value instanceof Float32Array ? 'float' : 'int';
      const buffer = context.buffer(value.byteLength, { type, access: 'read_only' });
      owned.push(buffer);
      pending.push(buffer.write(value));
      return buffer;
    });
    if (kernel instanceof ReductionKernel) {
      const [accumulator] = await Promise.all([kernel.run(args, { n: bound.n }), ...pending]);
      return parsed.reduction === 'mean' ? Number(accumulator) / bound.n : Number(accumulator);
    }
    const target = out instanceof Buffer ? out : context.buffer(bound.n * (bound.real === 'float' ? 4 : 8), { type: bound.real });
    if (!(out instanceof Buffer)) owned.push(target);
    const run = kernel.run([...args, target], { n: bound.n });
    if (out instanceof Buffer) {
      await Promise.all([run, ...pending]);
      return out;
    }
    const result = out ?? (bound.real === 'float' ? new Float32Array(bound.n) : new Float64Array(bound.n));
    // The uploads were enqueued first; the in-order queue runs the kernel after them once it is built.
    await Promise.all([run, ...pending]);
    return await target.read(result);
  } finally {
    for (const buffer of owned) buffer.release();
  }
}

registerDeviceEvaluator(evaluateTree as DeviceEvaluator);
