// CountMinSketch: the public class over either backend. State (counters + shape) is plain typed
// arrays owned here; the kernels in kernel.ts (pure TS) and the addon (native) update it in place.
import { type Backend, resolveBackend } from '../core/loader.js';
import { checkBoolean, checkInteger, checkOneOf, checkOptions, typeName } from '../core/validate.js';
import { MAX_COUNTER_BYTES, MAX_DEPTH, readSketch, writeSketch } from './format.js';
import { checkKeys, encodeKey, keyCount, keyBytes, keyEnd, keyStart, seedHalves, type Key } from './hash.js';
import { estimateKey, mergeCounters, updateKey, type SketchState } from './kernel.js';
import { lastHash, xxh64 } from './xxh64.js';
import {
  checkLineOptions,
  LineCarry,
  updateLinesCandidatesJs,
  updateLinesJs,
  type LineCandidate,
  type LineFormat,
  type UpdateLinesOptions,
} from './lines.js';
import {
  estimateManyNative,
  estimateNative,
  hashNative,
  mergeNative,
  updateLinesCandidatesNative,
  updateLinesNative,
  updateManyNative,
  updateNative,
} from './native.js';

export type CounterType = 'u32' | 'u64';

export interface CountMinOptions {
  /** Hash seed: a safe integer or a bigint in [0, 2^64). Sketches merge only with equal seeds. Default 0. */
  seed?: number | bigint;
  /** Estan–Varghese conservative update: smaller over-estimates; counts must be >= 0. Default false. */
  conservative?: boolean;
  /** Counter width; counters saturate at 2^32 - 1 or 2^64 - 1 instead of wrapping. Default 'u32'. */
  counter?: CounterType;
  /** Kernel used by this sketch. Default: the process backend (`hotpath.backend`). */
  backend?: Backend;
}

/** A sketch and an integer weight for merge(). */
export interface WeightedSketch {
  sketch: CountMinSketch;
  weight: number;
}

const counterTypes: readonly CounterType[] = ['u32', 'u64'];
const MAX_WIDTH = 0xffffffff;

/** The format's checksum on the given backend: xxHash64 with seed 0. */
function checksumFor(backend: Backend): (bytes: Uint8Array) => bigint {
  return (bytes) => hashBytes(backend, bytes, 0, 0);
}

/** xxHash64 of bytes with a (hi, lo) seed on the given backend. */
export function hashBytes(backend: Backend, bytes: Uint8Array, seedHi: number, seedLo: number): bigint {
  if (backend === 'native') return hashNative(bytes, seedHi, seedLo);
  xxh64(bytes, 0, bytes.length, seedHi, seedLo);
  return (BigInt(lastHash[0]) << 32n) | BigInt(lastHash[1]);
}

/** Counts as a Float64Array (null: every count is 1), each a safe integer, >= 0 when `nonNegative`. */
function checkCounts(where: string, counts: unknown, n: number, nonNegative: boolean): Float64Array | null {
  if (counts === undefined) return null;
  // A bigint typed array passes here and fails per element (its elements are not numbers).
  if (!Array.isArray(counts) && !(ArrayBuffer.isView(counts) && !(counts instanceof DataView))) {
    throw new TypeError(`${where}: counts must be an Array or a numeric typed array, got ${typeName(counts)}`);
  }
  const list = counts as ArrayLike<unknown>;
  if (list.length !== n) throw new RangeError(`${where}: counts has ${list.length} elements for ${n} keys`);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = checkCount(where, `counts[${i}]`, list[i], nonNegative);
  return out;
}

function checkCount(where: string, name: string, count: unknown, nonNegative: boolean): number {
  if (typeof count !== 'number') throw new TypeError(`${where}: ${name} must be a number, got ${typeName(count)}`);
  if (!Number.isSafeInteger(count)) throw new RangeError(`${where}: ${name} must be a safe integer, got ${count}`);
  if (nonNegative && count < 0)
    throw new RangeError(`${where}: ${name} must be >= 0 with conservative update, got ${count}`);
  return count;
}

/** Exact sum of safe-integer counts: doubles while the partial sum stays exact, BigInt beyond. */
function sum(counts: Float64Array): bigint {
  let total = 0n;
  let partial = 0;
  for (let i = 0; i < counts.length; i++) {
    if (Math.abs(partial) + Math.abs(counts[i]) > Number.MAX_SAFE_INTEGER) {
      total += BigInt(partial);
      partial = 0;
    }
    partial += counts[i];
  }
  return total + BigInt(partial);
}

/** totalCount saturates like the counters: it is kept in [0, 2^64 - 1], the range the binary format stores. */
const MAX_TOTAL = 2n ** 64n - 1n;

/**
 * Updates that also report each key's estimate right after its update: TopK (same package)
 * needs them, the public API does not. Set by CountMinSketch's static block.
 */
export const sketchInternals = {} as {
  update(sketch: CountMinSketch, where: string, key: unknown, count: unknown): number;
  updateMany(sketch: CountMinSketch, where: string, keys: unknown, counts: unknown, estimates: Float64Array): void;
  /** One complete piece of a byte stream, sequentially, returning the candidates at or above threshold (TopK). */
  updateLinesCandidates(
    sketch: CountMinSketch,
    bytes: Uint8Array,
    format: LineFormat,
    threshold: number,
    limit: number,
  ): LineCandidate[];
};

/**
 * Count-min sketch (Cormode & Muthukrishnan): depth rows of width counters. With
 * width = ceil(e / ε) and depth = ceil(ln(1 / δ)), an estimate exceeds the true count by more than
 * ε·N (N = totalCount) with probability at most δ, and never under-counts (counts >= 0).
 */
export class CountMinSketch {
  readonly backend: Backend;
  readonly width: number;
  readonly depth: number;
  readonly seed: bigint;
  readonly conservative: boolean;
  readonly counter: CounterType;
  #state: SketchState;
  #total = 0n;
  #lines = new LineCarry();

  static {
    sketchInternals.update = (sketch, where, key, count) => sketch.#update(where, key, count);
    sketchInternals.updateMany = (sketch, where, keys, counts, estimates) =>
      sketch.#updateMany(where, keys, counts, estimates);
    sketchInternals.updateLinesCandidates = (sketch, bytes, format, threshold, limit) => {
      const run = sketch.backend === 'native' ? updateLinesCandidatesNative : updateLinesCandidatesJs;
      const { keys, candidates } = run(sketch.#state, bytes, format, threshold, limit);
      sketch.#addTotal(BigInt(keys));
      return candidates;
    };
  }

  /** `counters`: loaded state of the right length (fromBuffer); default all zero. */
  private constructor(
    width: number,
    depth: number,
    opts: Record<string, unknown>,
    where: string,
    counters?: Uint32Array,
  ) {
    this.backend = resolveBackend(opts.backend, where);
    const seed = seedHalves(where, opts.seed ?? 0);
    this.seed = seed.seed;
    this.conservative =
      opts.conservative === undefined ? false : checkBoolean(where, 'conservative', opts.conservative);
    this.counter = opts.counter === undefined ? 'u32' : checkOneOf(where, 'counter', opts.counter, counterTypes);
    this.width = width;
    this.depth = depth;
    const wide = this.counter === 'u64';
    const bytes = width * depth * (wide ? 8 : 4);
    if (bytes > MAX_COUNTER_BYTES) {
      throw new RangeError(
        `${where}: ${width} x ${depth} ${this.counter} counters need ${bytes} bytes, ` +
          `over the ${MAX_COUNTER_BYTES}-byte limit`,
      );
    }
    this.#state = {
      width,
      depth,
      seedHi: seed.hi,
      seedLo: seed.lo,
      wide,
      conservative: this.conservative,
      counters: counters ?? new Uint32Array(bytes / 4),
      shape: Uint32Array.of(width, depth, seed.lo, seed.hi, wide ? 1 : 0, this.conservative ? 1 : 0),
    };
  }

  /** A sketch of `depth` rows of `width` counters. */
  static withDimensions(width: number, depth: number, options?: CountMinOptions): CountMinSketch {
    const where = 'CountMinSketch.withDimensions';
    const opts = checkOptions(where, options);
    return new CountMinSketch(
      checkInteger(where, 'width', width, 1, MAX_WIDTH),
      checkInteger(where, 'depth', depth, 1, MAX_DEPTH),
      opts,
      where,
    );
  }

  /**
   * A sketch with width = ceil(e / epsilon), depth = ceil(ln(1 / delta)): error <= epsilon·N with probability
   * >= 1 - delta.
   */
  static withErrorRate(epsilon: number, delta: number, options?: CountMinOptions): CountMinSketch {
    const where = 'CountMinSketch.withErrorRate';
    const opts = checkOptions(where, options);
    for (const [name, v] of [
      ['epsilon', epsilon],
      ['delta', delta],
    ] as const) {
      if (typeof v !== 'number') throw new TypeError(`${where}: ${name} must be a number, got ${typeName(v)}`);
      if (!(v > 0 && v < 1)) throw new RangeError(`${where}: ${name} must be in (0, 1), got ${v}`);
    }
    const width = Math.ceil(Math.E / epsilon);
    const depth = Math.max(1, Math.ceil(Math.log(1 / delta)));
    if (width > MAX_WIDTH || depth > MAX_DEPTH)
      throw new RangeError(`${where}: epsilon=${epsilon}, delta=${delta} need ${width} x ${depth} counters, too large`);
    return new CountMinSketch(width, depth, opts, where);
  }

  /** The additive error factor this width guarantees: e / width (<= the epsilon asked for). */
  get epsilon(): number {
    return Math.E / this.width;
  }
  /** The failure probability this depth guarantees: e^-depth (<= the delta asked for). */
  get delta(): number {
    return Math.exp(-this.depth);
  }
  /**
   * Sum of all counts added (N), merged sketches' totals included (weighted), as a number: exact up
   * to 2^53 (Number.MAX_SAFE_INTEGER), the nearest double above. totalCountBigInt is always exact.
   */
  get totalCount(): number {
    return Number(this.#total);
  }
  /** totalCount exactly, in [0, 2^64 - 1] (saturating): what toBuffer() stores. */
  get totalCountBigInt(): bigint {
    return this.#total;
  }
  /** epsilon · totalCount: with probability >= 1 - delta no estimate exceeds its true count by more. */
  get errorBound(): number {
    return this.epsilon * Number(this.#total);
  }
  /** Bytes of counter memory. */
  get byteLength(): number {
    return this.#state.counters.byteLength;
  }

  /** Adds `count` (a safe integer; >= 0 under conservative update) to key. Returns this. */
  update(key: Key, count = 1): this {
    this.#update('CountMinSketch.update', key, count);
    return this;
  }

  /** Adds counts[i] (default 1) to keys[i] for every key, in one native call per batch. Returns this. */
  updateMany(keys: readonly Key[], counts?: ArrayLike<number>): this {
    this.#updateMany('CountMinSketch.updateMany', keys, counts, null);
    return this;
  }

  /**
   * Adds 1 to every key of a byte stream — a file, a socket, a stream chunk — split at `separator` (default
   * '\n', CRLF-aware), with no JavaScript string per key: each key hashes as its bytes, the same as
   * update() of that key as a string (UTF-8) or Uint8Array. Empty keys are skipped. With `stream: true` a
   * key cut by the end of the chunk waits for the next call. Large inputs use `threads` threads (native
   * backend; a conservative sketch counts in order on one thread). Returns this.
   */
  updateLines(bytes: Uint8Array, options?: UpdateLinesOptions): this {
    const { format, stream, threads } = checkLineOptions('CountMinSketch.updateLines', bytes, options);
    for (const piece of this.#lines.next(bytes, format, stream)) {
      const keys =
        this.backend === 'native'
          ? updateLinesNative(this.#state, piece, format, threads)
          : updateLinesJs(this.#state, piece, format);
      this.#addTotal(BigInt(keys));
    }
    return this;
  }

  /** The key's estimated count: the minimum of its counters. */
  estimate(key: Key): number {
    const where = 'CountMinSketch.estimate';
    return this.backend === 'native' ? estimateNative(this.#state, key, where) : estimateKey(this.#state, key, where);
  }

  /** Estimates of every key, in one native call per batch. */
  estimateMany(keys: readonly Key[]): Float64Array {
    const where = 'CountMinSketch.estimateMany';
    const out = new Float64Array(keyCount(where, keys));
    if (this.backend === 'native') estimateManyNative(this.#state, keys, out, where);
    else {
      checkKeys(where, keys);
      for (let i = 0; i < keys.length; i++) out[i] = estimateKey(this.#state, keys[i], where);
    }
    return out;
  }

  /** The estimate itself: count-min never under-counts (with counts >= 0 and no saturation). */
  upperBound(key: Key): number {
    return this.estimate(key);
  }

  /** max(0, estimate - epsilon·N): the true count is at least this with probability >= 1 - delta. */
  lowerBound(key: Key): number {
    return Math.max(0, this.estimate(key) - this.errorBound);
  }

  /**
   * Adds other sketches' counters into this one, each times an optional integer weight in
   * [0, 2^32) (default 1), saturating. Width, depth, seed and counter type must match.
   */
  merge(...others: Array<CountMinSketch | WeightedSketch>): this {
    const where = 'CountMinSketch.merge';
    const parts = others.map((o, i) => {
      const { sketch, weight } = o instanceof CountMinSketch ? { sketch: o, weight: 1 } : ((o as WeightedSketch) ?? {});
      if (!(sketch instanceof CountMinSketch))
        throw new TypeError(
          `${where}: argument ${i} must be a CountMinSketch or { sketch, weight }, got ${typeName(o)}`,
        );
      checkInteger(where, `weight of argument ${i}`, weight, 0, 0xffffffff);
      if (
        sketch.width !== this.width ||
        sketch.depth !== this.depth ||
        sketch.seed !== this.seed ||
        sketch.counter !== this.counter
      ) {
        throw new RangeError(
          `${where}: argument ${i} is ${sketch.#describe()}, this sketch is ${this.#describe()}: ` +
            'width, depth, seed and counter type must match',
        );
      }
      return { state: sketch.#state, total: sketch.#total, weight };
    });
    for (const { state, total, weight } of parts) {
      if (this.backend === 'native') mergeNative(this.#state.counters, state.counters, this.#state.wide, weight);
      else mergeCounters(this.#state.counters, state.counters, this.#state.wide, weight);
      this.#addTotal(total * BigInt(weight));
    }
    return this;
  }

  /** The versioned binary form (see docs/api.md): loads in either backend with identical estimates. */
  toBuffer(): Buffer {
    const s = this.#state;
    const header = {
      wide: s.wide,
      conservative: s.conservative,
      width: s.width,
      depth: s.depth,
      seed: this.seed,
      totalCount: this.#total,
    };
    return writeSketch(header, s.counters, checksumFor(this.backend));
  }

  /** Loads toBuffer() output; a truncated, corrupted or foreign buffer is an Error naming the defect. */
  static fromBuffer(buffer: Uint8Array, options?: { backend?: Backend }): CountMinSketch {
    const where = 'CountMinSketch.fromBuffer';
    const chosen = resolveBackend(checkOptions(where, options).backend, where);
    const { header: h, counters } = readSketch(where, buffer, checksumFor(chosen));
    const opts = { backend: chosen, seed: h.seed, conservative: h.conservative, counter: h.wide ? 'u64' : 'u32' };
    const sketch = new CountMinSketch(h.width, h.depth, opts, where, counters);
    sketch.#total = h.totalCount;
    return sketch;
  }

  /** update() returning the key's estimate after it. */
  #update(where: string, key: unknown, count: unknown): number {
    checkCount(where, 'count', count, this.conservative);
    const c = count as number;
    const estimate =
      this.backend === 'native' ? updateNative(this.#state, key, c, where) : updateKey(this.#state, key, c, where);
    this.#addTotal(BigInt(c));
    return estimate;
  }

  /** updateMany that also writes each key's estimate after its update when `estimates` is given. */
  #updateMany(where: string, keys: unknown, counts: unknown, estimates: Float64Array | null): void {
    const list = keys as readonly unknown[];
    const checked = checkCounts(where, counts, keyCount(where, keys), this.conservative);
    if (this.backend === 'native') updateManyNative(this.#state, list, checked, estimates, where);
    else {
      checkKeys(where, keys);
      for (let i = 0; i < list.length; i++) {
        const e = updateKey(this.#state, list[i], checked ? checked[i] : 1, where);
        if (estimates) estimates[i] = e;
      }
    }
    this.#addTotal(checked ? sum(checked) : BigInt(list.length));
  }

  #addTotal(n: bigint): void {
    const total = this.#total + n;
    this.#total = total < 0n ? 0n : total > MAX_TOTAL ? MAX_TOTAL : total;
  }

  #describe(): string {
    return `${this.width} x ${this.depth} ${this.counter} seed ${this.seed}`;
  }
}

/** xxHash64 of a key's bytes (the sketch's hash): strings as UTF-8, numbers and bigints as int64 little-endian. */
export function xxhash64(key: Key, options?: { seed?: number | bigint; backend?: Backend }): bigint {
  const where = 'xxhash64';
  const opts = checkOptions(where, options);
  const chosen = resolveBackend(opts.backend, where);
  const seed = seedHalves(where, opts.seed ?? 0);
  encodeKey(where, key);
  return hashBytes(chosen, keyBytes.subarray(keyStart, keyEnd), seed.hi, seed.lo);
}
