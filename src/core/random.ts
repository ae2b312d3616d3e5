// The one seeded PRNG of the demos, benchmarks, tests and Zipf key generator: mulberry32, small and
// fast, so generated data is reproducible from its seed. Not for anything that needs unpredictability.

/** Uniform doubles in [0, 1) from a 32-bit seed: the same seed gives the same stream. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
