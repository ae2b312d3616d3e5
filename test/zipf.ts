// Seeded Zipf streams (the package's own generator, from the build) and exact counts for the
// count-min and top-k suites.
import { zipfKeys } from '../dist/countmin/zipf.js';

export function zipfStream(seed: number, length: number, n: number, s: number): string[] {
  return zipfKeys(length, n, s, seed, 'item-');
}

export function exactCounts(keys: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}
