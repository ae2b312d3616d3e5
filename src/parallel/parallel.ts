// Parallel kernels: split a SharedArrayBuffer-backed input across worker threads (one shared,
// lazily started Pool), compute mergeable partials in place, combine them on the caller's thread.
import os from 'node:os';
import path from 'node:path';
import { resolveBackend } from '../binding/loader.js';
import { checkInteger, checkOptions, toFloatArray, type FloatArray } from '../common/validate.js';
import { Moments, type DescribeOptions, type DescribeResult, type MomentsJSON, type NanPolicy } from '../moments/index.js';
import { checkSignal } from '../async/signals.js';
import { Pool } from '../pool/pool.js';

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
  shared ??= new Pool({ filename: path.join(__dirname, 'tasks.js'), minThreads: 0, maxThreads: os.availableParallelism() });
  return shared;
}

/** Stops the shared worker pool (a later parallel call starts a new one). */
export async function close(): Promise<void> {
  const pool = shared;
  shared = null;
  await pool?.close();
}

/** The same elements over a SharedArrayBuffer: the input itself when it already is one, else a copy. */
export function toShared(x: FloatArray): FloatArray {
  if (x.buffer instanceof SharedArrayBuffer) return x;
  const buffer = new SharedArrayBuffer(x.byteLength);
  const copy = x instanceof Float32Array ? new Float32Array(buffer) : new Float64Array(buffer);
  copy.set(x);
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
    threads: opts.threads === undefined ? os.availableParallelism() : checkInteger(where, 'threads', opts.threads, 1, 1024),
    signal: checkSignal(where, opts.signal),
  };
}

/**
 * describe() over worker threads: each thread accumulates Moments over its slice of a
 * SharedArrayBuffer (pass a SharedArrayBuffer-backed array to skip the copy) and the partials are
 * merged with Moments.merge. Same options and result as describe(), on either backend.
 */
export async function describe(values: ArrayLike<number>, options?: DescribeOptions & ParallelOptions): Promise<DescribeResult> {
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
