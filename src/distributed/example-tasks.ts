// Task functions for the distributed demo and benchmark, compiled to dist/distributed/example-tasks.js
// so a Pool, a gateway and a cluster worker can all load the same module.
import { Moments, type MomentsJSON } from '../moments/index.js';

/** Primes in [from, limit) by trial division: plain CPU work (a few ms for limit 100_000). */
export function countPrimes(limit: number, from = 2): number {
  let count = 0;
  for (let n = Math.max(2, from); n < limit; n++) {
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

/** The mergeable moments of one chunk (Moments.merge combines them on the opener's side). */
export function momentsOf(values: Float64Array): MomentsJSON {
  return new Moments().pushArray(values).toJSON();
}
