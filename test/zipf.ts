// Seeded Zipf streams and exact counts for the count-min and top-k suites.
import { rng } from './helpers.js';

/** Zipf(s) sampler over ranks 1..n by inverse CDF (binary search), seeded. */
export function zipfStream(seed: number, length: number, n: number, s: number): string[] {
  const cdf = new Float64Array(n);
  let acc = 0;
  for (let i = 0; i < n; i++) cdf[i] = acc += 1 / Math.pow(i + 1, s);
  const r = rng(seed);
  const out = new Array<string>(length);
  for (let j = 0; j < length; j++) {
    const u = r() * acc;
    let lo = 0, hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    out[j] = `item-${lo}`;
  }
  return out;
}

export function exactCounts(keys: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

