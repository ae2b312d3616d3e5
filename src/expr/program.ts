// Compiled programs and the public evaluate / evaluateAsync / evaluateMany / compile API.
//
// Types (numexpr 2.8's kinds and rules, src/lang/typed.ts): every input has a kind (Float64Array float64,
// Float32Array float32, Int8/16/32Array and Uint8/16Array int32, Uint32Array/BigInt64Array/BigUint64Array
// int64, bool arrays bool; a number is float64, a bigint int64, a boolean bool), each op computes in the
// common kind of its operands, and each result is the typed array of its kind (RESULT_ARRAY in types.ts:
// bool results are Uint8Array of 0/1). Scalars only: a result of length 1. Reductions return a number
// (a bigint for int64); mean is float64.
//
// Shapes (ndarray.ts): when any input is an n-d object `{ data, shape, strides?, offset? }`, inputs are
// broadcast to one shape; the native backend reads the views through their strides on all threads
// (native/expr/ndarray_kernel.cc, #ndRun), the pure-TS one gathers them into contiguous C-order buffers where
// needed and runs the flat loop over them; results are `{ data, shape, strides, offset }`. `sum(x, axis=N)`
// computes x elementwise over the broadcast shape, then reduces along N (a Float64Array result of the reduced
// shape; a number when 0-d).
import { LRUCache } from 'lru-cache';
import { MAX_THREADS, getNumThreads } from '../core/threads.js';
import { type Backend, resolveBackend } from '../core/loader.js';
import { checkKnownOptions } from '../core/options.js';
import { checkInteger, trueLength, typeName } from '../core/validate.js';
import { type CallNode, ExpressionError, type Node, type Reduction, forEachNode, formatNode } from '../lang/ast.js';
import { type Bytecode, compileBytecode, disassemble } from './bytecode.js';
import { type Binding, type Ir, LoweringError, bindingFor, formatIr, lower, variableNames } from '../lang/ir.js';
import { type TypedIr, checkAxisOperand, formatTypedIr, outputKinds, typeProgram } from '../lang/typed.js';
import {
  ACCEPTED_VARIABLES,
  type ArrayCode,
  INT64_MAX,
  INT64_MIN,
  KIND_OF_CODE,
  type Kind,
  RESULT_ARRAY,
  arrayCode,
  scalarKind,
} from '../lang/types.js';
import {
  type Accumulator,
  type ElementArray,
  type FusedLoop,
  type InputCode,
  type InputValue,
  type OutputArray,
  buildFusedLoop,
  combineAccumulators,
  fusedLoopSource,
} from './kernel.js';
import {
  type NativeNdRun,
  type NativeRun,
  runNative,
  runNativeAsync,
  runNativeNd,
  runNativeNdAsync,
} from './native.js';
import { parse } from '../lang/parser.js';
import type { evaluateTree, OpenclEvaluateOptions, OpenclEvaluateResult, OpenclVariable } from '../opencl/evaluate.js';
import { deviceEvaluator } from '../lang/device.js';
import {
  type NdArray,
  type NdResult,
  type View,
  MAX_ELEMENTS,
  broadcastShapes,
  broadcastView,
  formatShape,
  gather,
  isNdObject,
  ndResult,
  normalizeAxis,
  readView,
  readsInPlace,
  reduceAxis,
  sizeOf,
} from '../lang/ndarray.js';

/** An elementwise result: the typed array of its kind (bool: Uint8Array of 0/1). */
export type ResultArray = OutputArray;
/** A boolean array: a Uint8Array of 0/1 marked as bool (with `shape` it is an n-d array). */
export interface BoolArray {
  data: Uint8Array;
  dtype: 'bool';
  shape?: readonly number[];
}
/**
 * A typed array of a type types.ts accepts (read in place), a boolean array (an Array of booleans, or a
 * BoolArray), an n-d array object, or a scalar broadcast to every element (number, bigint, boolean).
 */
export type VariableValue =
  ElementArray | BigUint64Array | readonly boolean[] | BoolArray | NdArray | number | bigint | boolean;
export type Variables = Readonly<Record<string, VariableValue>>;

export interface EvaluateOptions {
  /**
   * Write the result here instead of allocating (Float64Array or Float32Array per the promotion table, length n).
   * May be one of the inputs.
   */
  out?: ResultArray;
  /** Native threads. Default: getNumThreads() (all cores unless setNumThreads changed it). Small arrays use one. */
  threads?: number;
  /** Elements per native block (every temporary is one block, sized to stay in L1). Default 256. */
  blockSize?: number;
  /**
   * 'native' or 'js'. Default: the process backend, with arrays shorter than the native cut-off on the fused JS
   * loop.
   */
  backend?: Backend;
}

export interface EvaluateManyOptions extends Omit<EvaluateOptions, 'out'> {
  /** Result arrays to write into, by output name (any subset). */
  out?: Readonly<Record<string, ResultArray>>;
}

/** A flat array (flat inputs), an n-d result (any n-d input), or a number (a reduction; a bigint for int64). */
export type EvaluateResult = ResultArray | NdResult<ResultArray> | number | bigint;

/** Below this many elements the default backend runs the fused JS loop: a native call's fixed cost would dominate. */
export const NATIVE_MIN_LENGTH = 4096;
export const DEFAULT_BLOCK_SIZE = 256;
/** Every option evaluate, evaluateMany, compile().run and vectorized functions accept; others are a TypeError. */
const EVALUATE_OPTIONS = ['out', 'threads', 'blockSize', 'backend'] as const;
const CACHE_SIZE = 256;
/** Elements per chunk of an n-d evaluation that gathers or reduces along an axis (#chunkRows): L2-sized buffers. */
const CHUNK_ELEMENTS = 1 << 16;

/** Where a variable first appears, for "unknown variable" errors with a caret. */
interface Site {
  source: string;
  column: number;
}

function firstSites(root: Node, source: string, sites: Map<string, Site>): void {
  forEachNode(root, (node) => {
    if (node.kind === 'variable' && !sites.has(node.name)) sites.set(node.name, { source, column: node.column });
  });
}

/** The program lowered for one set of shadowed constants (pi, e bound as variables or not). */
interface Variant {
  ir: Ir;
  /** The program typed per input kinds (joined), with its fused JS loops by input signature and bytecode. */
  typed: Map<string, Typed>;
}

interface Typed {
  ir: TypedIr;
  /** The kind of each output's values. */
  kinds: Kind[];
  loops: Map<string, FusedLoop>;
  bytecode?: Bytecode;
}

interface Bound {
  variant: Variant;
  typed: Typed;
  inputs: InputValue[];
  codes: InputCode[];
  n: number;
  /** The broadcast shape when any input was n-d (results are then n-d), else null. */
  shape: number[] | null;
  /** With a shape: each array input as a view of that shape (broadcast dims stride 0), gathered by #prepare. */
  views: (View | null)[] | null;
}

type OutOption = (opts: Record<string, unknown>) => Record<string, unknown>;

interface Prepared {
  bound: Bound;
  /** Rows of dimension 0 per chunk when run in chunks (#runChunked), else 0. */
  chunkRows: number;
  /** n-d inputs read through their strides by the native n-d evaluator (#ndRun): nothing gathered here. */
  nativeNd: boolean;
  settings: Settings;
  arrays: (ResultArray | null)[];
  /** Float64Array `out`s of float32 outputs (a safe cast, as numexpr allows): filled from `arrays` at the end. */
  widened: Map<number, Float64Array>;
}

/** A native n-d run and, per output, the shape of its axis reduction (null for other outputs). */
interface NdPlan {
  run: NativeNdRun;
  shaped: (number[] | null)[];
}

interface Settings {
  backend: Backend;
  threads: number;
  blockSize: number;
}

/** The compiled form shared by Program (one output) and evaluateMany (several): IR plus per-signature fused loops. */
export class CompiledExpressions {
  readonly trees: readonly { name: string; root: Node }[];
  readonly #sites = new Map<string, Site>();
  /** Every name the trees read, `pi` and `e` included (each is the constant unless the caller binds it). */
  readonly #names: string[];
  /** Per output: its `axis=N` reduction (computed elementwise, then reduced along N), or null. */
  readonly #axisReductions: ({ reduction: Reduction; axis: number } | null)[];
  /** Programs lowered per Binding (ir.ts): which constants the caller shadows, which inputs are integers. */
  readonly #variants = new Map<string, Variant>();

  readonly #sources: string[];
  readonly #where: string;

  /** `source` is the text each tree was parsed from (error carets point into it); `where` names the caller. */
  constructor(trees: readonly { name: string; root: Node; source: string }[], where: string) {
    this.trees = trees.map(({ name, root }) => ({ name, root }));
    this.#sources = trees.map((t) => t.source);
    this.#where = where;
    for (const { root, source } of trees) firstSites(root, source, this.#sites);
    this.#names = variableNames(this.trees);
    this.#axisReductions = this.trees.map(({ root }) =>
      root.kind === 'call' && root.axis !== undefined ? { reduction: root.fn as Reduction, axis: root.axis } : null,
    );
  }

  /** The reduction of output `k`, with or without an axis. */
  reductionOf(k: number): Reduction | null {
    return this.#axisReductions[k]?.reduction ?? this.ir.outputs[k].reduction;
  }

  /** `where` names the caller in errors (the program may be cached from another caller). */
  #variant(vars: Readonly<Record<string, unknown>>, where = this.#where): Variant {
    const { key, binding } = bindingFor(this.#names, vars, (value) => {
      const kind = inputKind(value);
      return kind !== null && kind !== 'float32' && kind !== 'float64';
    });
    let variant = this.#variants.get(key);
    if (!variant) {
      variant = { ir: this.#lower(binding, where), typed: new Map() };
      this.#variants.set(key, variant);
    }
    return variant;
  }

  #lower(binding: Binding, where: string): Ir {
    // An axis reduction lowers to its elementwise argument; #shapeResults reduces it.
    const roots = this.trees.map((t, k) =>
      this.#axisReductions[k] ? { name: t.name, root: (t.root as CallNode).args[0] } : t,
    );
    return this.#lowering(where, () => lower(roots, binding));
  }

  /** Runs a lowering step, turning its LoweringError into an ExpressionError at the source position. */
  #lowering<T>(where: string, step: () => T): T {
    try {
      return step();
    } catch (error) {
      if (!(error instanceof LoweringError)) throw error;
      throw new ExpressionError(where, error.problem, this.#sources[error.root], error.column);
    }
  }

  /** The program with every constant name resolved (outputs and reductions are the same in every variant). */
  get ir(): Ir {
    return this.#variant({}).ir;
  }

  static parse(sources: readonly { name: string; source: string }[], where: string): CompiledExpressions {
    return new CompiledExpressions(
      sources.map(({ name, source }) => ({ name, root: parse(source, where), source })),
      where,
    );
  }

  /** Every name the expressions read, `pi` and `e` included (they fall back to the constants when not bound). */
  get variables(): readonly string[] {
    return this.#variant(Object.fromEntries(this.#names.map((name) => [name, 0]))).ir.inputs;
  }

  /** The variant typed for inputs of these kinds (cached). */
  #typed(where: string, variant: Variant, kinds: readonly Kind[]): Typed {
    const key = kinds.join();
    let typed = variant.typed.get(key);
    if (!typed) {
      const ir = this.#lowering(where, () =>
        typeProgram(
          variant.ir,
          kinds,
          this.#axisReductions.map((a) => a !== null),
        ),
      );
      typed = { ir, kinds: outputKinds(ir), loops: new Map() };
      variant.typed.set(key, typed);
    }
    return typed;
  }

  /** Checks and orders the caller's variables; decides length and kinds. */
  bind(where: string, vars: unknown): Bound {
    if (vars === null || typeof vars !== 'object' || Array.isArray(vars)) {
      throw new TypeError(
        `${where}: variables must be an object mapping names to typed arrays or numbers, got ${typeName(vars)}`,
      );
    }
    const record = vars as Record<string, unknown>;
    // A variable named like a constant (pi, e) wins over the constant, as every name does in numexpr.
    const variant = this.#variant(record, where);
    let lengthFrom: string | null = null;
    let n = 1;
    const inputs: InputValue[] = [];
    const codes: InputCode[] = [];
    const kinds: Kind[] = [];
    const views: (View | null)[] = [];
    const anyNd = variant.ir.inputs.some((name) => isNdObject(record[name]));
    for (const name of variant.ir.inputs) {
      if (!Object.prototype.hasOwnProperty.call(record, name)) {
        const site = this.#sites.get(name)!;
        throw new ExpressionError(where, `unknown variable '${name}'`, site.source, site.column);
      }
      const value = record[name];
      const view = isNdObject(value) ? readView(where, name, value) : null;
      views.push(view);
      if (view) {
        const code: ArrayCode = isBoolObject(value) ? boolCode(where, name, view.data) : arrayCode(view.data)!;
        inputs.push(view.data);
        codes.push(code);
        kinds.push(KIND_OF_CODE[code]);
        continue;
      }
      const scalar = scalarKind(value);
      if (scalar !== null) {
        inputs.push(scalarValue(where, name, value as number | bigint | boolean));
        codes.push('s');
        kinds.push(scalar);
        continue;
      }
      const array = flatInput(where, name, value);
      const length = trueLength(array.data);
      if (lengthFrom === null) {
        lengthFrom = name;
        n = length;
      } else if (!anyNd && length !== n) {
        throw new RangeError(
          `${where}: length mismatch: '${lengthFrom}' has ${n} elements but '${name}' has ${length}`,
        );
      }
      inputs.push(array.data);
      codes.push(array.code);
      kinds.push(KIND_OF_CODE[array.code]);
    }
    const typed = this.#typed(where, variant, kinds);
    if (!anyNd) return { variant, typed, inputs, codes, n, shape: null, views: null };
    // Any n-d input: flat arrays are 1-d views, scalars have no shape; broadcast and gather.
    const shaped = views.map((view, i): View | null => {
      const input = inputs[i];
      if (view || !ArrayBuffer.isView(input)) return view;
      return { data: input, shape: [trueLength(input)], strides: [1], offset: 0 };
    });
    const named = variant.ir.inputs.map((name, i) => ({ name, view: shaped[i] })).filter((x) => x.view);
    const shape = broadcastShapes(
      where,
      named.map(({ name, view }) => ({ name, shape: view!.shape })),
    );
    const size = sizeOf(shape);
    if (size > MAX_ELEMENTS) {
      throw new RangeError(
        `${where}: the broadcast shape ${formatShape(shape)} has ${size} elements, more than ${MAX_ELEMENTS}`,
      );
    }
    const broadcast = shaped.map((view) => view && broadcastView(view, shape));
    return { variant, typed, inputs, codes, n: size, shape, views: broadcast };
  }

  /**
   * Validates `out` arrays (or allocates them) for every elementwise output. A Float64Array `out` for
   * a float32 result is a safe cast (numexpr's casting='safe'): the result is computed into a float32
   * array and widened into it at the end (`widened`). Narrowing (float64 into Float32Array) is a TypeError.
   */
  outputs(
    where: string,
    bound: Bound,
    out: Readonly<Record<string, unknown>>,
    axisScratch = bound.n,
  ): { arrays: (ResultArray | null)[]; widened: Map<number, Float64Array> } {
    const widened = new Map<number, Float64Array>();
    const arrays = this.ir.outputs.map((o, k) => {
      const kind = bound.typed.kinds[k];
      const Ctor = RESULT_ARRAY[kind];
      const given = out[o.name];
      const label = this.ir.outputs.length === 1 ? 'out' : `out.${o.name}`;
      // An axis reduction's elementwise values need only one chunk's worth when run in chunks.
      if (given === undefined) return o.reduction ? null : new Ctor(this.#axisReductions[k] ? axisScratch : bound.n);
      const reduction = this.reductionOf(k);
      if (reduction) throw new TypeError(`${where}: ${label} cannot be used with the reduction '${reduction}'`);
      const widens = kind === 'float32' && given instanceof Float64Array;
      if (!(given instanceof Ctor) && !widens) {
        const article = Ctor === Int32Array ? 'an' : 'a';
        const accepted = kind === 'float32' ? 'a Float32Array or Float64Array' : `${article} ${Ctor.name}`;
        throw new TypeError(
          `${where}: ${label} must be ${accepted} (the result type for these inputs is ${Ctor.name}, ${kind}), ` +
            `got ${typeName(given)}`,
        );
      }
      const length = trueLength(given as ResultArray);
      if (length !== bound.n) throw new RangeError(`${where}: ${label} has ${length} elements, expected ${bound.n}`);
      if (!widens) return given as ResultArray;
      widened.set(k, given as Float64Array);
      return new Float32Array(bound.n);
    });
    this.#resolveAliasing(where, bound, arrays);
    return { arrays, widened };
  }

  // Elementwise in-place (out is exactly an input) is safe in both backends. A partial overlap
  // (a shifted view, or another element type over the same bytes) would read values already
  // overwritten, so that input is copied first. Two outputs sharing memory is an error.
  #resolveAliasing(where: string, bound: Bound, arrays: (ResultArray | null)[]): void {
    arrays.forEach((out, k) => {
      if (!out) return;
      arrays.forEach((other, j) => {
        if (other && j < k && overlaps(out, other)) {
          throw new RangeError(
            `${where}: outputs '${this.ir.outputs[j].name}' and '${this.ir.outputs[k].name}' share memory`,
          );
        }
      });
      bound.inputs.forEach((input, i) => {
        if (!ArrayBuffer.isView(input) || !overlaps(out, input)) return;
        const identical = input.byteOffset === out.byteOffset && input.BYTES_PER_ELEMENT === out.BYTES_PER_ELEMENT;
        if (!identical) bound.inputs[i] = input.slice();
      });
    });
  }

  settings(where: string, opts: Record<string, unknown>, n: number): Settings {
    const threads =
      opts.threads === undefined ? getNumThreads() : checkInteger(where, 'threads', opts.threads, 1, MAX_THREADS);
    const blockSize =
      opts.blockSize === undefined ? DEFAULT_BLOCK_SIZE : checkInteger(where, 'blockSize', opts.blockSize, 16, 1 << 20);
    const backend = opts.backend === undefined && n < NATIVE_MIN_LENGTH ? 'js' : resolveBackend(opts.backend, where);
    return { backend, threads, blockSize };
  }

  /** Runs the fused JS loop; returns each output's finished value. */
  runFused(bound: Bound, arrays: (ResultArray | null)[]): EvaluateResult[] {
    return this.finish(bound.n, arrays, this.#fusedAccumulators(bound, arrays));
  }

  /** Runs the fused JS loop; returns the raw reduction accumulators. */
  #fusedAccumulators(bound: Bound, arrays: (ResultArray | null)[]): Accumulator[] {
    const key = bound.codes.join('');
    const { ir, loops } = bound.typed;
    let loop = loops.get(key);
    if (!loop) {
      loop = buildFusedLoop(ir, bound.codes);
      loops.set(key, loop);
    }
    return loop(bound.inputs, arrays, bound.n);
  }

  /** Turns raw accumulators into results: mean divides by n; min/max of nothing is NaN. */
  finish(n: number, arrays: (ResultArray | null)[], accumulators: ArrayLike<Accumulator>): EvaluateResult[] {
    return this.ir.outputs.map((o, k) => {
      if (!o.reduction) return arrays[k]!;
      return finishReduction(o.reduction, accumulators[k], n);
    });
  }

  #prepare(where: string, vars: unknown, options: unknown, outOption: OutOption, chunked = true): Prepared {
    const opts = checkKnownOptions(where, options, EVALUATE_OPTIONS);
    const bound = this.bind(where, vars);
    for (const [k, axisReduction] of this.#axisReductions.entries()) {
      if (!axisReduction) continue;
      normalizeAxis(where, axisReduction.axis, bound.shape ?? [bound.n]);
      checkAxisOperand(where, bound.typed.ir, k, `${axisReduction.reduction}(..., axis=${axisReduction.axis})`);
    }
    const settings = this.settings(where, opts, bound.n);
    const out = outOption(opts);
    // The native evaluator reads views in place and writes results while it runs, so an `out` sharing
    // memory with an input stays on the paths below (gathered first).
    const nativeNd =
      settings.backend === 'native' && bound.shape !== null && bound.shape.length > 0 && !outSharesInput(bound, out);
    const chunkRows = chunked && !nativeNd ? this.#chunkRows(where, bound, out) : 0;
    if (!chunkRows && !nativeNd)
      bound.views?.forEach((view, i) => view && (bound.inputs[i] = gather(view, bound.shape!)));
    const axisScratch = nativeNd ? 0 : chunkRows ? chunkRows * (bound.n / bound.shape![0]) : bound.n;
    return { bound, settings, chunkRows, nativeNd, ...this.outputs(where, bound, out, axisScratch) };
  }

  /**
   * n-d inputs that need gathering, or axis reductions, run in chunks of whole dimension-0 slices (about
   * CHUNK_ELEMENTS each): inputs are gathered into small reused buffers and axis reductions reduce each
   * chunk, and full reductions combine the chunks' accumulators, so no temporary of the full size is made.
   * Not chunked: axis 0, and an `out` sharing memory with an input (a chunk's writes must not change what a
   * later chunk reads).
   */
  #chunkRows(where: string, bound: Bound, out: Readonly<Record<string, unknown>>): number {
    const { shape, views } = bound;
    if (!shape || !views || shape.length < 2 || bound.n < CHUNK_ELEMENTS) return 0;
    const axes = this.#axisReductions.map((a) => a && normalizeAxis(where, a.axis, shape));
    if (axes.some((axis) => axis === 0)) return 0;
    // Contiguous inputs and no axis reduction: one whole-buffer run is already copy-free.
    if (axes.every((axis) => axis === null) && views.every((v) => !v || readsInPlace(v, shape))) return 0;
    if (outSharesInput(bound, out)) return 0;
    return Math.max(1, Math.floor(CHUNK_ELEMENTS / (bound.n / shape[0])));
  }

  #runChunked(prepared: Prepared): EvaluateResult[] {
    const { bound, arrays, settings, chunkRows } = prepared;
    const shape = bound.shape!;
    const slab = bound.n / shape[0];
    const buffers = bound.views!.map((view) => {
      if (!view || readsInPlace(view, shape)) return undefined;
      return new (view.data.constructor as new (n: number) => ElementArray)(chunkRows * slab);
    });
    const reduced = this.#axisReductions.map((a) => {
      if (!a) return null;
      const axis = normalizeAxis('evaluate', a.axis, shape);
      const reducedShape = shape.filter((_, d) => d !== axis);
      return { ...a, axis, reducedShape, values: new Float64Array(sizeOf(reducedShape)) };
    });
    const accumulators: Accumulator[] = [];
    for (let r0 = 0; r0 < shape[0]; r0 += chunkRows) {
      const rows = Math.min(chunkRows, shape[0] - r0);
      const chunkShape = [rows, ...shape.slice(1)];
      const m = rows * slab;
      const inputs = bound.inputs.map((input, i) => {
        const view = bound.views![i];
        if (!view) return input;
        const part = { ...view, shape: chunkShape, offset: view.offset + r0 * view.strides[0] };
        return gather(part, chunkShape, buffers[i]);
      });
      // An axis output's array is one chunk of scratch (outputs()).
      const chunkArrays = arrays.map(
        (a, k) => a && (reduced[k] ? a.subarray(0, m) : a.subarray(r0 * slab, r0 * slab + m)),
      );
      const chunkAccumulators =
        settings.backend === 'js'
          ? this.#fusedAccumulators({ ...bound, inputs, n: m }, chunkArrays)
          : runNative({
              ...this.#nativeRun(prepared),
              inputs,
              outputs: chunkArrays,
              n: m,
            });
      this.ir.outputs.forEach((o, k) => {
        if (o.reduction)
          accumulators[k] =
            r0 === 0
              ? chunkAccumulators[k]
              : combineAccumulators(o.reduction, bound.typed.kinds[k], accumulators[k], chunkAccumulators[k]);
      });
      reduced.forEach((r, k) => {
        // Axis outputs are float (typeProgram widens integer and bool ones).
        const values = chunkArrays[k] as Float64Array | Float32Array;
        if (r) r.values.set(reduceAxis(r.reduction, values, chunkShape, r.axis), r0 * (slab / shape[r.axis]));
      });
    }
    const finished = this.finish(bound.n, arrays, accumulators);
    return finished.map((result, k) => {
      const r = reduced[k];
      return r ? ndResult(r.values, r.reducedShape) : result;
    });
  }

  /**
   * The native n-d evaluator: inputs read through their strides (no gather here), rows split over the
   * thread pool, axis reductions reduced natively into Float64Arrays of the reduced shape.
   */
  #ndRun(prepared: Prepared): NdPlan {
    const { bound, arrays } = prepared;
    const shape = bound.shape!;
    const shaped: (number[] | null)[] = [];
    const axes = this.#axisReductions.map((a, k) => {
      shaped[k] = null;
      if (!a) return null;
      const axis = normalizeAxis('evaluate', a.axis, shape);
      shaped[k] = shape.filter((_, d) => d !== axis);
      return { reduction: a.reduction, axis, values: new Float64Array(sizeOf(shaped[k]!)) };
    });
    const outputs = arrays.map((a, k) => (axes[k] ? null : a));
    return { run: { ...this.#nativeRun(prepared), outputs, views: bound.views!, shape, axes }, shaped };
  }

  /** Results of #ndRun: axis outputs as their reduced shape (a number when that is 0-d), the rest finished. */
  #ndResults(prepared: Prepared, ndRun: NdPlan, accumulators: Accumulator[]): EvaluateResult[] {
    const { run, shaped } = ndRun;
    return this.finish(prepared.bound.n, prepared.arrays, accumulators).map((result, k) => {
      const axis = run.axes[k];
      if (!axis) return result;
      return shaped[k]!.length === 0 ? axis.values[0] : ndResult(axis.values, shaped[k]!);
    });
  }

  /** Moves widened results into the caller's Float64Array `out`s, then gives results their shapes. */
  #widen(where: string, prepared: Prepared, results: EvaluateResult[]): EvaluateResult[] {
    for (const [k, target] of prepared.widened) {
      target.set(results[k] as Float32Array);
      results[k] = target;
    }
    return this.#shapeResults(where, prepared.bound, results);
  }

  // Axis reductions reduce their elementwise values; with n-d inputs arrays become n-d results.
  #shapeResults(where: string, bound: Bound, results: EvaluateResult[]): EvaluateResult[] {
    const shape = bound.shape ?? [bound.n];
    return results.map((result, k) => {
      const axisReduction = this.#axisReductions[k];
      // #runChunked returns axis outputs already reduced.
      if (axisReduction && ArrayBuffer.isView(result)) {
        const axis = normalizeAxis(where, axisReduction.axis, shape);
        const reduced = reduceAxis(axisReduction.reduction, result as Float64Array | Float32Array, shape, axis);
        const reducedShape = shape.filter((_, d) => d !== axis);
        return reducedShape.length === 0 ? reduced[0] : ndResult(reduced, reducedShape);
      }
      if (!bound.shape || !ArrayBuffer.isView(result)) return result;
      return ndResult(result as ResultArray, bound.shape);
    });
  }

  #nativeRun({ bound, settings, arrays }: Prepared): NativeRun {
    const typed = bound.typed;
    typed.bytecode ??= compileBytecode(typed.ir);
    const { threads, blockSize } = settings;
    return {
      bytecode: typed.bytecode,
      inputs: bound.inputs,
      outputs: arrays,
      kinds: typed.kinds,
      n: bound.n,
      threads,
      blockSize,
    };
  }

  execute(where: string, vars: unknown, options: unknown, outOption: OutOption): EvaluateResult[] {
    const prepared = this.#prepare(where, vars, options, outOption);
    if (prepared.nativeNd) {
      const ndRun = this.#ndRun(prepared);
      return this.#widen(where, prepared, this.#ndResults(prepared, ndRun, runNativeNd(ndRun.run)));
    }
    if (prepared.chunkRows) return this.#widen(where, prepared, this.#runChunked(prepared));
    if (prepared.settings.backend === 'js')
      return this.#widen(where, prepared, this.runFused(prepared.bound, prepared.arrays));
    const accumulators = runNative(this.#nativeRun(prepared));
    return this.#widen(where, prepared, this.finish(prepared.bound.n, prepared.arrays, accumulators));
  }

  async executeAsync(where: string, vars: unknown, options: unknown, outOption: OutOption): Promise<EvaluateResult[]> {
    // Whole-buffer path: one worker job over gathered inputs (chunks would each be a job).
    const prepared = this.#prepare(where, vars, options, outOption, false);
    if (prepared.nativeNd) {
      const ndRun = this.#ndRun(prepared);
      return this.#widen(where, prepared, this.#ndResults(prepared, ndRun, await runNativeNdAsync(ndRun.run)));
    }
    if (prepared.settings.backend === 'js')
      return this.#widen(where, prepared, this.runFused(prepared.bound, prepared.arrays));
    const accumulators = await runNativeAsync(this.#nativeRun(prepared));
    return this.#widen(where, prepared, this.finish(prepared.bound.n, prepared.arrays, accumulators));
  }

  /** The tree, the SSA program, the JS loop generated for Float64Array inputs and the native bytecode. */
  describe(): string {
    const variant = this.#variant({});
    // Shown for Float64Array inputs; shifts (integers only) for Int32Array ones.
    const shifts = variant.ir.values.some((v) => v.kind === 'op' && v.site);
    const kind: Kind = shifts ? 'int32' : 'float64';
    const typed = this.#typed(
      this.#where,
      variant,
      variant.ir.inputs.map(() => kind),
    );
    const label = shifts ? 'Int32Array inputs' : 'Float64Array inputs';
    const codes = variant.ir.inputs.map((): InputCode => (shifts ? 'i' : 'd'));
    return [
      ...this.trees.map((t) => `${t.name} = ${formatNode(t.root)}`),
      '',
      'SSA:',
      formatIr(this.ir),
      '',
      `typed (${label}):`,
      formatTypedIr(typed.ir),
      '',
      `fused JS loop (${label}):`,
      fusedLoopSource(typed.ir, codes),
      '',
      'native bytecode (one instruction = one loop over a block):',
      disassemble((typed.bytecode ??= compileBytecode(typed.ir))),
    ].join('\n');
  }
}

function finishReduction(reduction: Reduction, accumulator: Accumulator, n: number): number | bigint {
  if (reduction === 'mean') return (accumulator as number) / n;
  if ((reduction === 'min' || reduction === 'max') && n === 0) return NaN;
  return accumulator;
}

/** `{ data, dtype: 'bool' }` (with or without a shape): a boolean array. */
function isBoolObject(value: unknown): value is BoolArray {
  return typeof value === 'object' && value !== null && (value as { dtype?: unknown }).dtype === 'bool';
}

function boolCode(where: string, name: string, data: unknown): ArrayCode {
  if (!(data instanceof Uint8Array)) {
    throw new TypeError(
      `${where}: variable '${name}' has dtype 'bool', so its data must be a Uint8Array, got ${typeName(data)}`,
    );
  }
  return '?';
}

/** A scalar as the loops read it: a boolean is 0 or 1, a bigint must fit int64. */
function scalarValue(where: string, name: string, value: number | bigint | boolean): number | bigint {
  if (typeof value === 'boolean') return Number(value);
  if (typeof value === 'bigint' && (value < INT64_MIN || value > INT64_MAX)) {
    throw new RangeError(`${where}: variable '${name}' (${value}) does not fit in int64`);
  }
  return value;
}

/** A flat array variable as the loops read it, with its code (bool arrays become Uint8Arrays of 0/1). */
function flatInput(where: string, name: string, value: unknown): { data: ElementArray; code: ArrayCode } {
  const code = arrayCode(value);
  if (code !== null) return { data: value as ElementArray, code };
  if (value instanceof BigUint64Array) {
    // numexpr reads unsigned 64-bit integers as int64; values from 2^63 up would wrap, so they are refused.
    const words = new Uint32Array(value.buffer, value.byteOffset, value.length * 2);
    const high = new DataView(new ArrayBuffer(8));
    high.setUint32(0, 1, true);
    const highWord = new Uint32Array(high.buffer)[0] === 1 ? 1 : 0; // little-endian: the high word is second
    for (let k = highWord; k < words.length; k += 2) {
      if (words[k] >= 0x80000000) {
        throw new RangeError(`${where}: variable '${name}' holds ${value[k >> 1]}, which does not fit in int64`);
      }
    }
    return { data: new BigInt64Array(value.buffer, value.byteOffset, value.length), code: 'l' };
  }
  if (Array.isArray(value) && value.every((x) => typeof x === 'boolean')) {
    return { data: Uint8Array.from(value as boolean[], Number), code: '?' };
  }
  if (isBoolObject(value)) return { data: value.data, code: boolCode(where, name, value.data) };
  const accepted = `${ACCEPTED_VARIABLES} (or an n-d array { data, shape, strides?, offset? })`;
  throw new TypeError(`${where}: variable '${name}' must be ${accepted}, got ${typeName(value)}`);
}

/** The kind a variable computes in, or null when it is not a valid variable (bind() then says why). */
function inputKind(value: unknown): Kind | null {
  const scalar = scalarKind(value);
  if (scalar !== null) return scalar;
  if (isBoolObject(value) || (Array.isArray(value) && value.every((x) => typeof x === 'boolean'))) return 'bool';
  if (value instanceof BigUint64Array) return 'int64';
  const code = arrayCode(isNdObject(value) ? value.data : value);
  return code === null ? null : KIND_OF_CODE[code];
}

/** Whether any `out` array lies in the buffer of an n-d input's data. */
function outSharesInput(bound: Bound, out: Readonly<Record<string, unknown>>): boolean {
  const buffers = new Set(bound.views?.map((v) => v && v.data.buffer));
  return Object.values(out).some((o) => ArrayBuffer.isView(o) && buffers.has(o.buffer));
}

function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return (
    a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength
  );
}

/** Each Program's compiled form, for reEvaluate (which names itself in error messages). */
const compiledOf = new WeakMap<Program, CompiledExpressions>();

/**
 * A compiled expression: parse once, run many times. `run` returns a new typed array (or writes
 * `out`), or a number for a reduction (`sum(a*b)`).
 */
export class Program {
  readonly source: string;
  readonly #compiled: CompiledExpressions;
  readonly #caller: { sync: string; async: string };

  /** `caller` names the public function in error messages (vectorized functions pass their own). */
  constructor(source: string, compiled: CompiledExpressions, caller = { sync: 'evaluate', async: 'evaluateAsync' }) {
    this.source = source;
    this.#compiled = compiled;
    this.#caller = caller;
    compiledOf.set(this, compiled);
  }

  /** Input variable names, in order of first appearance. */
  get variables(): readonly string[] {
    return this.#compiled.variables;
  }

  /** The outermost reduction, or null for an elementwise expression. */
  get reduction(): Reduction | null {
    return this.#compiled.reductionOf(0);
  }

  run(vars: Variables, options?: EvaluateOptions): EvaluateResult {
    return this.#compiled.execute(this.#caller.sync, vars, options, singleOut)[0];
  }

  async runAsync(vars: Variables, options?: EvaluateOptions): Promise<EvaluateResult> {
    return (await this.#compiled.executeAsync(this.#caller.async, vars, options, singleOut))[0];
  }

  /**
   * The same program on an OpenCL device (opencl.evaluate's options and results; inputs may be Buffers
   * already on the device). Computes in float32 by default on devices without fp64.
   */
  runOpenCL(
    vars: Readonly<Record<string, OpenclVariable>>,
    options?: OpenclEvaluateOptions,
  ): Promise<OpenclEvaluateResult> {
    const where = `${this.#caller.sync === 'evaluate' ? 'Program' : this.#caller.sync}.runOpenCL`;
    const evaluate = deviceEvaluator(where) as unknown as typeof evaluateTree;
    return evaluate(where, this.source, this.#compiled.trees[0].root, vars, options);
  }

  /** The parsed tree, the SSA program and the generated JS loop. */
  toString(): string {
    return this.#compiled.describe();
  }
}

function singleOut(opts: Record<string, unknown>): Record<string, unknown> {
  return opts.out === undefined ? {} : { result: opts.out };
}

const programs = new LRUCache<string, Program>({ max: CACHE_SIZE });
const manyPrograms = new LRUCache<string, CompiledExpressions>({ max: CACHE_SIZE });

/** Compiles `expr` once (cached by text in an LRU shared with evaluate). Throws ExpressionError on syntax errors. */
export function compile(expr: string): Program {
  return compileFor('compile', expr);
}

function compileFor(where: string, expr: unknown): Program {
  if (typeof expr !== 'string') throw new TypeError(`${where}: expr must be a string, got ${typeName(expr)}`);
  const cached = programs.get(expr);
  if (cached) return cached;
  const program = new Program(expr, CompiledExpressions.parse([{ name: 'result', source: expr }], where));
  programs.set(expr, program);
  return program;
}

/**
 * Evaluates `expr` elementwise over the variables in one fused pass (no temporaries of size n).
 * Returns a new Float64Array/Float32Array (see the promotion table), `options.out`, or a number
 * for an outermost reduction.
 */
export function evaluate(expr: string, vars: Variables, options?: EvaluateOptions): EvaluateResult {
  const program = compileFor('evaluate', expr);
  const result = program.run(vars, options);
  lastEvaluated = { program, vars, options };
  return result;
}

/** The last successful evaluate() call in this realm (numexpr keeps one per thread), for reEvaluate. */
let lastEvaluated: { program: Program; vars: Variables; options: EvaluateOptions | undefined } | null = null;

/**
 * numexpr's re_evaluate: runs the expression of the last successful evaluate() again without
 * looking it up, over `vars` (default: the same variables, whose contents may have changed) with
 * the same options (`out` included). Keeps a reference to those variables until the next evaluate().
 */
export function reEvaluate(vars?: Variables): EvaluateResult {
  if (!lastEvaluated) throw new Error('reEvaluate: no expression has been evaluated yet (call evaluate first)');
  const { program, options } = lastEvaluated;
  const chosen = vars ?? lastEvaluated.vars;
  const result = compiledOf.get(program)!.execute('reEvaluate', chosen, options, singleOut)[0];
  lastEvaluated = { program, vars: chosen, options };
  return result;
}

/** evaluate() off the event loop (native backend: all cores on the addon's thread pool). */
export async function evaluateAsync(expr: string, vars: Variables, options?: EvaluateOptions): Promise<EvaluateResult> {
  return compileFor('evaluateAsync', expr).runAsync(vars, options);
}

function compileMany(where: string, exprs: unknown): CompiledExpressions {
  if (exprs === null || typeof exprs !== 'object' || Array.isArray(exprs)) {
    throw new TypeError(
      `${where}: exprs must be an object mapping output names to expression strings, got ${typeName(exprs)}`,
    );
  }
  const entries = Object.entries(exprs as Record<string, unknown>);
  if (entries.length === 0) throw new RangeError(`${where}: exprs must name at least one output`);
  for (const [name, source] of entries) {
    if (typeof source !== 'string')
      throw new TypeError(`${where}: exprs.${name} must be a string, got ${typeName(source)}`);
  }
  const key = JSON.stringify(entries);
  let compiled = manyPrograms.get(key);
  if (!compiled) {
    compiled = CompiledExpressions.parse(
      entries.map(([name, source]) => ({ name, source: source as string })),
      where,
    );
    manyPrograms.set(key, compiled);
  }
  return compiled;
}

function manyOut(where: string) {
  return (opts: Record<string, unknown>): Record<string, unknown> => {
    if (opts.out === undefined) return {};
    if (opts.out === null || typeof opts.out !== 'object' || ArrayBuffer.isView(opts.out)) {
      throw new TypeError(`${where}: out must be an object mapping output names to arrays, got ${typeName(opts.out)}`);
    }
    return opts.out as Record<string, unknown>;
  };
}

function named(compiled: CompiledExpressions, results: EvaluateResult[]): Record<string, EvaluateResult> {
  return Object.fromEntries(compiled.ir.outputs.map((o, k) => [o.name, results[k]]));
}

/**
 * Several expressions over the same variables in ONE pass: shared subexpressions are computed
 * once and each input is read once per element. Returns { name: array or number }.
 */
export function evaluateMany(
  exprs: Readonly<Record<string, string>>,
  vars: Variables,
  options?: EvaluateManyOptions,
): Record<string, EvaluateResult> {
  const compiled = compileMany('evaluateMany', exprs);
  return named(compiled, compiled.execute('evaluateMany', vars, options, manyOut('evaluateMany')));
}
