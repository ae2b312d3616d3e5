// Task module for bench/pool.bench.mjs: a CPU-bound kernel (no I/O, no allocation) and a no-op.

/** Primes below `limit` by trial division: pure compute, the same work on any thread. */
export function countPrimes(from, to) {
  let count = 0;
  for (let n = Math.max(2, from); n < to; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return count;
}

export function echo(x) {
  return x;
}

/** The same as echo, in piscina's one-argument handler shape, for the bare-piscina baseline. */
export default function handler(x) {
  return x;
}
