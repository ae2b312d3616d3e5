// Parallel kernels: split a SharedArrayBuffer-backed input across worker threads (one shared,
// lazily started Pool), compute mergeable partials in place, combine them on the caller's thread.
import os from 'node:os';
import path from 'node:path';
import { resolveBackend, type Backend } from '../core/loader.js';
import { checkInteger, checkOptions, toFloatArray, trueLength } from '../core/validate.js';
import {
  Moments,
  type DescribeOptions,
  type DescribeResult,
  type MomentsJSON,
  type NanPolicy,
} from '../moments/index.js';
import { checkSignal } from '../async/signals.js';
import {
  compile,
  evaluate as evaluateExpr,
  type ElementArray,
  type EvaluateResult,
  type ResultArray,
  type Variables,
} from '../expr/index.js';
import { Pool } from '../pool/index.js';

export interface ParallelOptions {
  /** Slices the input is cut into, one task each. Default: os.availableParallelism(). */
  threads?: number;
  /** Cancels the running tasks; the call rejects with an AbortError. */
  signal?: AbortSignal;
}

/** Below this many elements per slice, a thread costs more than it saves. */
const MIN_SLICE = 1 << 15;

let shared: Pool | null = null;

/** The pool behind the parallel kernels, started on first use; idle workers do not keep the process alive. */
function kernelPool(): Pool {
  shared ??= new Pool({
    filename: path.join(__dirname, 'tasks.js'),
    minThreads: 0,
    maxThreads: os.availableParallelism(),
  });
  return shared;
}

/** Stops the shared worker pool (a later parallel call starts a new one). */
export async function close(): Promise<void> {
  const pool = shared;
  shared = null;
  await pool?.close();
}

type SharedInput = ElementArray;

/** The same elements over a SharedArrayBuffer: the input itself when it already is one, else a copy. */
export function toShared<A extends SharedInput>(x: A): A {
  if (x.buffer instanceof SharedArrayBuffer) return x;
  const Ctor = x.constructor as new (buffer: SharedArrayBuffer) => A;
  const copy = new Ctor(new SharedArrayBuffer(x.byteLength));
  copy.set(x as never);
  return copy;
}

/** [start, end) bounds of at most `threads` near-equal slices of n elements, none below MIN_SLICE (at least one). */
export function slices(n: number, threads: number): Array<[number, number]> {
  const count = Math.max(1, Math.min(threads, Math.floor(n / MIN_SLICE)));
  return Array.from({ length: count }, (_, i) => [Math.floor((i * n) / count), Math.floor(((i + 1) * n) / count)]);
}

export function parallelSettings(where: string, options: unknown) {
  const opts = checkOptions(where, options);
  return {
    opts,
    backend: resolveBackend(opts.backend, where),
    threads:
      opts.threads === undefined ? os.availableParallelism() : checkInteger(where, 'threads', opts.threads, 1, 1024),
    signal: checkSignal(where, opts.signal),
  };
}

/**
 * describe() over worker threads: each thread accumulates Moments over its slice of a
 * SharedArrayBuffer (pass a SharedArrayBuffer-backed array to skip the copy) and the partials are
 * merged with Moments.merge. Same options and result as describe(), on either backend.
 */
export async function describe(
  values: ArrayLike<number>,
  options?: DescribeOptions & ParallelOptions,
): Promise<DescribeResult> {
  const where = 'parallel.describe';
  const { opts, backend, threads, signal } = parallelSettings(where, options);
  const total = new Moments({ backend, nan: opts.nan as NanPolicy | undefined });
  const x = toShared(toFloatArray(where, 'values', values));
  const pool = kernelPool();
  const partials = slices(x.length, threads).map(([start, end]) =>
    pool.submitWith<MomentsJSON>('momentsPartial', [x.subarray(start, end), total.nan, backend], { signal }),
  );
  for (const partial of await Promise.all(partials)) total.merge(partial);
  return total.describe(opts);
}

export interface ParallelEvaluateOptions extends ParallelOptions {
  /** 'native' or 'js' kernel in each worker. Default: the process backend. */
  backend?: Backend;
}

/** The variables with every array replaced by its [start, end) view (scalars stay). */
function sliceVars(vars: Variables, start: number, end: number): Variables {
  return Object.fromEntries(
    Object.entries(vars).map(([k, v]) => [k, ArrayBuffer.isView(v) ? v.subarray(start, end) : v]),
  );
}

/** Common length of the array variables (RangeError if they differ), or null when there are none. */
function arrayLength(where: string, names: readonly string[], vars: Variables): number | null {
  let n: number | null = null;
  for (const name of names) {
    const value = vars[name];
    if (!ArrayBuffer.isView(value)) continue;
    const length = trueLength(value);
    if (n !== null && length !== n)
      throw new RangeError(`${where}: length mismatch: variables have ${n} and ${length} elements ('${name}')`);
    n = length;
  }
  return n;
}

/**
 * evaluate() over worker threads: the array variables are shared (SharedArrayBuffer, copied once
 * if they are not already), each thread evaluates its slice, writing elementwise results straight
 * into one shared output, and reductions (sum, prod, min, max, mean) are combined from the slices'.
 */
export async function evaluate(
  expr: string,
  vars: Variables,
  options?: ParallelEvaluateOptions,
): Promise<EvaluateResult> {
  const where = 'parallel.evaluate';
  const { backend, threads, signal } = parallelSettings(where, options);
  const program = compile(expr);
  // Running the first element checks names and types with evaluate's own messages, and gives the result type.
  const n = vars !== null && typeof vars === 'object' ? arrayLength(where, program.variables, vars) : null;
  const probe = program.run(n === null ? vars : sliceVars(vars, 0, Math.min(n, 1)), { backend });
  if (n === null || n <= 1) return program.run(vars, { backend });
  const shared = Object.fromEntries(
    Object.entries(vars).map(([k, v]) => [k, ArrayBuffer.isView(v) ? toShared(v as ElementArray) : v]),
  );
  const reduction = program.reduction;
  const Result = (probe as ResultArray).constructor as new (buffer: SharedArrayBuffer) => ResultArray;
  const out = reduction ? null : new Result(new SharedArrayBuffer(n * (probe as ResultArray).BYTES_PER_ELEMENT));
  const parts = slices(n, threads);
  const pool = kernelPool();
  const partials = await Promise.all(
    parts.map(([start, end]) =>
      pool.submitWith<number | null>(
        'evaluateSlice',
        [expr, sliceVars(shared, start, end), out?.subarray(start, end) ?? null, backend],
        { signal },
      ),
    ),
  );
  if (out) return out;
  // Combine with the same reduction (same NaN and empty semantics); a mean is a length-weighted sum.
  if (reduction === 'mean') {
    const sums = Float64Array.from(partials, (mean, i) => (mean as number) * (parts[i][1] - parts[i][0]));
    return (evaluateExpr('sum(x)', { x: sums }, { backend: 'js' }) as number) / n;
  }
  return evaluateExpr(`${reduction}(x)`, { x: Float64Array.from(partials as number[]) }, { backend: 'js' });
}
