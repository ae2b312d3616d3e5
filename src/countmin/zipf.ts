// Seeded Zipf-distributed string keys: the data of the count-min demo, benchmark and tests.
import { mulberry32 } from '../core/random.js';

/**
 * `length` keys `${prefix}${rank}` with P(rank r) ∝ 1 / (r + 1)^s over ranks 0..n-1, by inverse
 * CDF (binary search) on a seeded mulberry32 stream. Equal ranks share one string, as the keys
 * of a stream read once and interned would.
 */
export function zipfKeys(length: number, n: number, s: number, seed: number, prefix = 'key-'): string[] {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) cdf[i] = total += 1 / Math.pow(i + 1, s);
  const names: string[] = new Array(n);
  const uniform = mulberry32(seed);
  const out: string[] = new Array(length);
  for (let j = 0; j < length; j++) {
    const u = uniform() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    out[j] = names[lo] ??= `${prefix}${lo}`;
  }
  return out;
}
