// The default thread count of native kernels, numexpr's set_num_threads / get_num_threads: every
// native call that takes a `threads` option (evaluate and its relatives, describeAsync,
// Moments.pushArrayAsync) uses it when the option is absent. The setting is per JavaScript realm:
// each worker thread has its own.
import os from 'node:os';
import { checkInteger } from './validate.js';

/** The most threads one native call may use. */
export const MAX_THREADS = 1024;

let numThreads = Math.min(os.availableParallelism(), MAX_THREADS);

/** Sets the default native thread count (an integer in [1, 1024]); returns the previous one, as numexpr does. */
export function setNumThreads(n: number): number {
  const previous = numThreads;
  numThreads = checkInteger('setNumThreads', 'n', n, 1, MAX_THREADS);
  return previous;
}

/** The default native thread count: os.availableParallelism() until setNumThreads changes it. */
export function getNumThreads(): number {
  return numThreads;
}
