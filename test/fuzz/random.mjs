// Deterministic randomness for the fuzzer. Every case gets its own generator seeded from (run seed, case id),
// so one case replays exactly on its own (`--case`) without running the cases before it.

/** MurmurHash3's 32-bit finalizer: spreads seed bits over the generator's state. */
function mix32(h) {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** 32-bit FNV-1a of a string: folds a case id into the seed. */
function hashString(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class Random {
  /** @param {number} seed run seed (any safe integer); @param {string} id the case id */
  constructor(seed, id) {
    this.state = mix32((seed >>> 0) ^ mix32(Math.floor(seed / 2 ** 32)) ^ hashString(id)) || 1;
  }

  /** mulberry32: a uniform uint32. */
  uint32() {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  float() {
    return this.uint32() / 2 ** 32;
  }

  /** Integer in [lo, hi]. */
  int(lo, hi) {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  chance(p) {
    return this.float() < p;
  }

  pick(items) {
    return items[this.int(0, items.length - 1)];
  }

  /** A length biased towards the edges that matter: 0, 1, block and SIMD boundaries, NATIVE_MIN_LENGTH. */
  length(max = 70_000) {
    if (this.chance(0.5)) return this.pick([0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 255, 256, 257, 4095, 4096, 4097, 32769]);
    return this.int(0, max);
  }
}
