// Compiled programs and the public evaluate / evaluateAsync / evaluateMany / compile API.
//
// Type promotion (one compute type per program and call; floatPromotion() in ir.ts, numexpr 2.8's rule):
//   | inputs                                                         | computes in | result       |
//   |----------------------------------------------------------------|-------------|--------------|
//   | all arrays Float32Array, no scalar variable, no float constant | float32     | Float32Array |
//   |   meeting an array (`a*2` and `a**2.5` qualify, `a*2.0` not)   |             |              |
//   | anything else (Float64Array, Int32Array, a number variable,    | float64     | Float64Array |
//   |   `2.0`, `pi`, `1/2` next to a float32 array)                  |             |              |
//   | none (scalars only)                                            | float64     | Float64Array of length 1 |
// Reductions return a number; their accumulator is float64 in both modes.
import { LRUCache } from 'lru-cache';
import { MAX_THREADS, getNumThreads } from '../core/threads.js';
import { type Backend, resolveBackend } from '../core/loader.js';
import { checkKnownOptions } from '../core/options.js';
import { checkInteger, trueLength, typeName } from '../core/validate.js';
import { ExpressionError, type Node, type Reduction, forEachNode, formatNode } from '../lang/ast.js';
import { type Bytecode, compileBytecode, disassemble } from './bytecode.js';
import {
  type Binding,
  type Ir,
  LoweringError,
  bindingFor,
  floatPromotion,
  formatIr,
  lower,
  variableNames,
} from '../lang/ir.js';
import { ACCEPTED_VARIABLES, arrayCode } from '../lang/types.js';
import { type ElementArray, type FusedLoop, type InputCode, type InputValue, buildFusedLoop, fusedLoopSource } from './kernel.js';
import { type NativeRun, runNative, runNativeAsync } from './native.js';
import { parse } from '../lang/parser.js';
import type { evaluateTree, OpenclEvaluateOptions, OpenclEvaluateResult, OpenclVariable } from '../opencl/evaluate.js';
import { deviceEvaluator } from '../lang/device.js';

export type ResultArray = Float64Array | Float32Array;
/** A typed array of a type types.ts accepts (read in place), or a scalar broadcast to every element. */
export type VariableValue = ElementArray | number | boolean;
export type Variables = Readonly<Record<string, VariableValue>>;

export interface EvaluateOptions {
  /** Write the result here instead of allocating (Float64Array or Float32Array per the promotion table, length n). May be one of the inputs. */
  out?: ResultArray;
  /** Native threads. Default: getNumThreads() (all cores unless setNumThreads changed it). Small arrays use one. */
  threads?: number;
  /** Elements per native block (every temporary is one block, sized to stay in L1). Default 256. */
  blockSize?: number;
  /** 'native' or 'js'. Default: the process backend, with arrays shorter than the native cut-off on the fused JS loop. */
  backend?: Backend;
}

export interface EvaluateManyOptions extends Omit<EvaluateOptions, 'out'> {
  /** Result arrays to write into, by output name (any subset). */
  out?: Readonly<Record<string, ResultArray>>;
}

export type EvaluateResult = ResultArray | number;

/** Below this many elements the default backend runs the fused JS loop: a native call's fixed cost would dominate. */
export const NATIVE_MIN_LENGTH = 4096;
export const DEFAULT_BLOCK_SIZE = 256;
/** Every option evaluate, evaluateMany, compile().run and vectorized functions accept; others are a TypeError. */
const EVALUATE_OPTIONS = ['out', 'threads', 'blockSize', 'backend'] as const;
const CACHE_SIZE = 256;

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
  /** Fused JS loops by input signature. */
  loops: Map<string, FusedLoop>;
  bytecode?: Bytecode;
}

interface Bound {
  variant: Variant;
  inputs: InputValue[];
  codes: InputCode[];
  n: number;
  float32: boolean;
}

type OutOption = (opts: Record<string, unknown>) => Record<string, unknown>;

interface Prepared {
  bound: Bound;
  settings: Settings;
  arrays: (ResultArray | null)[];
  /** Float64Array `out`s of float32 outputs (a safe cast, as numexpr allows): filled from `arrays` at the end. */
  widened: Map<number, Float64Array>;
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
  }

  /** `where` names the caller in errors (the program may be cached from another caller). */
  #variant(vars: Readonly<Record<string, unknown>>, where = this.#where): Variant {
    const { key, binding } = bindingFor(this.#names, vars, isIntegerInput);
    let variant = this.#variants.get(key);
    if (!variant) {
      variant = { ir: this.#lower(binding, where), loops: new Map() };
      this.#variants.set(key, variant);
    }
    return variant;
  }

  #lower(binding: Binding, where: string): Ir {
    try {
      return lower(this.trees, binding);
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
    return new CompiledExpressions(sources.map(({ name, source }) => ({ name, root: parse(source, where), source })), where);
  }

  /** Every name the expressions read, `pi` and `e` included (they fall back to the constants when not bound). */
  get variables(): readonly string[] {
    return this.#variant(Object.fromEntries(this.#names.map((name) => [name, 0]))).ir.inputs;
  }

  /** Checks and orders the caller's variables; decides length and compute type. */
  bind(where: string, vars: unknown): Bound {
    if (vars === null || typeof vars !== 'object' || Array.isArray(vars)) {
      throw new TypeError(`${where}: variables must be an object mapping names to typed arrays or numbers, got ${typeName(vars)}`);
    }
    const record = vars as Record<string, unknown>;
    // A variable named like a constant (pi, e) wins over the constant, as every name does in numexpr.
    const variant = this.#variant(record, where);
    let lengthFrom: string | null = null;
    let n = 1;
    const arrays: ('float32' | 'other')[] = [];
    const inputs: InputValue[] = [];
    const codes: InputCode[] = [];
    for (const name of variant.ir.inputs) {
      if (!Object.prototype.hasOwnProperty.call(record, name)) {
        const site = this.#sites.get(name)!;
        throw new ExpressionError(where, `unknown variable '${name}'`, site.source, site.column);
      }
      const value = record[name];
      const code = inputCode(value);
      if (code === null) {
        throw new TypeError(`${where}: variable '${name}' must be ${ACCEPTED_VARIABLES}, got ${typeName(value)}`);
      }
      if (code !== 's') {
        const length = trueLength(value as ElementArray);
        if (lengthFrom === null) {
          lengthFrom = name;
          n = length;
        } else if (length !== n) {
          throw new RangeError(`${where}: length mismatch: '${lengthFrom}' has ${n} elements but '${name}' has ${length}`);
        }
        arrays.push(code === 'f' ? 'float32' : 'other');
      }
      // A boolean scalar is 1 or 0, as NumPy's True and False in arithmetic.
      inputs.push(typeof value === 'boolean' ? Number(value) : (value as InputValue));
      codes.push(code);
    }
    const float32 = floatPromotion(variant.ir, arrays, codes.includes('s')) === 'float32';
    return { variant, inputs, codes, n, float32 };
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
  ): { arrays: (ResultArray | null)[]; widened: Map<number, Float64Array> } {
    const Ctor = bound.float32 ? Float32Array : Float64Array;
    const widened = new Map<number, Float64Array>();
    const arrays = this.ir.outputs.map((o, k) => {
      const given = out[o.name];
      const label = this.ir.outputs.length === 1 ? 'out' : `out.${o.name}`;
      if (given === undefined) return o.reduction ? null : new Ctor(bound.n);
      if (o.reduction) throw new TypeError(`${where}: ${label} cannot be used with the reduction '${o.reduction}'`);
      const widens = bound.float32 && given instanceof Float64Array;
      if (!(given instanceof Ctor) && !widens) {
        const accepted = bound.float32 ? 'a Float32Array or Float64Array' : 'a Float64Array';
        throw new TypeError(`${where}: ${label} must be ${accepted} (the result type for these inputs is ${Ctor.name}), got ${typeName(given)}`);
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
          throw new RangeError(`${where}: outputs '${this.ir.outputs[j].name}' and '${this.ir.outputs[k].name}' share memory`);
        }
      });
      bound.inputs.forEach((input, i) => {
        if (typeof input === 'number' || !overlaps(out, input)) return;
        const identical = input.byteOffset === out.byteOffset && input.BYTES_PER_ELEMENT === out.BYTES_PER_ELEMENT;
        if (!identical) bound.inputs[i] = input.slice();
      });
    });
  }

  settings(where: string, opts: Record<string, unknown>, n: number): Settings {
    const threads = opts.threads === undefined ? getNumThreads() : checkInteger(where, 'threads', opts.threads, 1, MAX_THREADS);
    const blockSize = opts.blockSize === undefined ? DEFAULT_BLOCK_SIZE : checkInteger(where, 'blockSize', opts.blockSize, 16, 1 << 20);
    const backend = opts.backend === undefined && n < NATIVE_MIN_LENGTH ? 'js' : resolveBackend(opts.backend, where);
    return { backend, threads, blockSize };
  }

  /** Runs the fused JS loop; returns each output's finished value. */
  runFused(bound: Bound, arrays: (ResultArray | null)[]): EvaluateResult[] {
    const key = (bound.float32 ? 'f32:' : 'f64:') + bound.codes.join('');
    const { ir, loops } = bound.variant;
    let loop = loops.get(key);
    if (!loop) {
      loop = buildFusedLoop(ir, bound.codes, bound.float32);
      loops.set(key, loop);
    }
    const accumulators = loop(bound.inputs, arrays, bound.n);
    return this.finish(bound.n, arrays, accumulators);
  }

  /** Turns raw accumulators into results: mean divides by n; min/max of nothing is NaN. */
  finish(n: number, arrays: (ResultArray | null)[], accumulators: ArrayLike<number>): EvaluateResult[] {
    return this.ir.outputs.map((o, k) => {
      if (!o.reduction) return arrays[k]!;
      return finishReduction(o.reduction, accumulators[k], n);
    });
  }

  #prepare(where: string, vars: unknown, options: unknown, outOption: OutOption): Prepared {
    const opts = checkKnownOptions(where, options, EVALUATE_OPTIONS);
    const bound = this.bind(where, vars);
    const settings = this.settings(where, opts, bound.n);
    return { bound, settings, ...this.outputs(where, bound, outOption(opts)) };
  }

  /** Moves widened results into the caller's Float64Array `out`s. */
  #widen(prepared: Prepared, results: EvaluateResult[]): EvaluateResult[] {
    for (const [k, target] of prepared.widened) {
      target.set(results[k] as Float32Array);
      results[k] = target;
    }
    return results;
  }

  #nativeRun({ bound, settings, arrays }: Prepared): NativeRun {
    const variant = bound.variant;
    variant.bytecode ??= compileBytecode(variant.ir);
    const { threads, blockSize } = settings;
    return { bytecode: variant.bytecode, inputs: bound.inputs, outputs: arrays, n: bound.n, float32: bound.float32, threads, blockSize };
  }

  execute(where: string, vars: unknown, options: unknown, outOption: OutOption): EvaluateResult[] {
    const prepared = this.#prepare(where, vars, options, outOption);
    if (prepared.settings.backend === 'js') return this.#widen(prepared, this.runFused(prepared.bound, prepared.arrays));
    const accumulators = runNative(this.#nativeRun(prepared));
    return this.#widen(prepared, this.finish(prepared.bound.n, prepared.arrays, accumulators));
  }

  async executeAsync(where: string, vars: unknown, options: unknown, outOption: OutOption): Promise<EvaluateResult[]> {
    const prepared = this.#prepare(where, vars, options, outOption);
    if (prepared.settings.backend === 'js') return this.#widen(prepared, this.runFused(prepared.bound, prepared.arrays));
    const accumulators = await runNativeAsync(this.#nativeRun(prepared));
    return this.#widen(prepared, this.finish(prepared.bound.n, prepared.arrays, accumulators));
  }

  /** The tree, the SSA program, the JS loop generated for Float64Array inputs and the native bytecode. */
  describe(): string {
    const variant = this.#variant({});
    const codes = variant.ir.inputs.map((): InputCode => 'd');
    return [
      ...this.trees.map((t) => `${t.name} = ${formatNode(t.root)}`),
      '',
      'SSA:',
      formatIr(this.ir),
      '',
      'fused JS loop (Float64Array inputs):',
      fusedLoopSource(this.ir, codes, false),
      '',
      'native bytecode (one instruction = one loop over a block):',
      disassemble((variant.bytecode ??= compileBytecode(variant.ir))),
    ].join('\n');
  }
}

function finishReduction(reduction: Reduction, accumulator: number, n: number): number {
  if (reduction === 'mean') return accumulator / n;
  if ((reduction === 'min' || reduction === 'max') && n === 0) return NaN;
  return accumulator;
}

function isIntegerInput(value: unknown): boolean {
  const code = inputCode(value);
  return typeof value === 'boolean' || (code !== null && code !== 's' && code !== 'd' && code !== 'f');
}

function inputCode(value: unknown): InputCode | null {
  if (typeof value === 'number' || typeof value === 'boolean') return 's';
  return arrayCode(value);
}

function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
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
    return this.#compiled.ir.outputs[0].reduction;
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
  runOpenCL(vars: Readonly<Record<string, OpenclVariable>>, options?: OpenclEvaluateOptions): Promise<OpenclEvaluateResult> {
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
    throw new TypeError(`${where}: exprs must be an object mapping output names to expression strings, got ${typeName(exprs)}`);
  }
  const entries = Object.entries(exprs as Record<string, unknown>);
  if (entries.length === 0) throw new RangeError(`${where}: exprs must name at least one output`);
  for (const [name, source] of entries) {
    if (typeof source !== 'string') throw new TypeError(`${where}: exprs.${name} must be a string, got ${typeName(source)}`);
  }
  const key = JSON.stringify(entries);
  let compiled = manyPrograms.get(key);
  if (!compiled) {
    compiled = CompiledExpressions.parse(entries.map(([name, source]) => ({ name, source: source as string })), where);
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
export function evaluateMany(exprs: Readonly<Record<string, string>>, vars: Variables, options?: EvaluateManyOptions): Record<string, EvaluateResult> {
  const compiled = compileMany('evaluateMany', exprs);
  return named(compiled, compiled.execute('evaluateMany', vars, options, manyOut('evaluateMany')));
}
