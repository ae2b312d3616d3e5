// Task module of the parallel kernels' shared pool (compiled to dist/parallel/tasks.js). Each task
// reads its slice of a SharedArrayBuffer in place and returns a small mergeable partial.
import type { Backend } from '../core/loader.js';
import { evaluate, type ResultArray, type Variables } from '../expr/index.js';
import { Moments, type MomentsJSON, type NanPolicy } from '../moments/index.js';

export function momentsPartial(values: Float64Array | Float32Array, nan: NanPolicy, backend: Backend): MomentsJSON {
  return new Moments({ backend, nan }).pushArray(values).toJSON();
}

/**
 * One slice of parallel.evaluate: writes an elementwise result into `out` (shared memory) or returns
 * the slice's reduction.
 */
export function evaluateSlice(expr: string, vars: Variables, out: ResultArray | null, backend: Backend): number | null {
  const result = evaluate(expr, vars, out === null ? { backend, threads: 1 } : { backend, threads: 1, out });
  return typeof result === 'number' ? result : null;
}
