// Task module for bench/pool.bench.mjs: a CPU-bound kernel (no I/O, no allocation) and a no-op.

// The CPU-bound kernel is the one the distributed benchmark and demo use: primes in [from, limit).
export { countPrimes } from '../dist/distributed/example-tasks.js';

export function echo(x) {
  return x;
}

/** The same as echo, in piscina's one-argument handler shape, for the bare-piscina baseline. */
export default function handler(x) {
  return x;
}
