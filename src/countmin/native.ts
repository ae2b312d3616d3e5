// Binding glue: passes batches of keys to the C++ kernel in as few crossings as possible. A batch
// of strings crosses as one joined string plus UTF-16 offsets (the addon converts each key to
// UTF-8 itself); any other mix is encoded here to one UTF-8/byte buffer plus byte offsets.
import { requireNative } from '../binding/loader.js';
import { checkKeys, encodeKey, keyBytes, keyEnd, keyStart, NOT_A_STRING } from './hash.js';
import type { SketchState } from './kernel.js';

/** Keys per native call; also bounds the temporary joined string and offsets. */
const BATCH_KEYS = 8_192;
/** UTF-16 units (or bytes) per native call, so a batch of long keys stays a bounded allocation. */
const BATCH_UNITS = 1 << 24;

let byteBatch = new Uint8Array(1 << 16);

/** One batch in the addon's shape: keys (string or bytes) plus offsets[0..n]. */
interface Batch {
  keys: string | Uint8Array;
  offsets: Uint32Array;
}

/**
 * The batch starting at `begin` (at most BATCH_KEYS keys and BATCH_UNITS units); returns it and
 * where it stopped. `lengths` are checkKeys()'s UTF-16 lengths, so strings are read only by join.
 */
function nextBatch(keys: readonly unknown[], lengths: Uint32Array, begin: number, where: string): { batch: Batch; end: number } {
  const limit = Math.min(keys.length, begin + BATCH_KEYS);
  const offsets = new Uint32Array(limit - begin + 1);
  let units = 0;
  let end = begin;
  for (; end < limit; end++) {
    const length = lengths[end];
    if (length === NOT_A_STRING || (end > begin && units + length > BATCH_UNITS)) break;
    offsets[end - begin + 1] = units += length;
  }
  if (end > begin) {
    // A run of strings (up to a non-string key or a batch limit) crosses as one joined string.
    return { batch: { keys: keys.slice(begin, end).join(''), offsets: offsets.subarray(0, end - begin + 1) }, end };
  }
  let size = 0;
  for (end = begin; end < limit; end++) {
    encodeKey(where, keys[end]);
    const n = keyEnd - keyStart;
    if (end > begin && size + n > BATCH_UNITS) break;
    if (size + n > byteBatch.length) {
      const grown = new Uint8Array(Math.max(size + n, byteBatch.length * 2));
      grown.set(byteBatch.subarray(0, size));
      byteBatch = grown;
    }
    byteBatch.set(keyBytes.subarray(keyStart, keyEnd), size);
    offsets[end - begin + 1] = size += n;
  }
  return { batch: { keys: byteBatch, offsets: offsets.subarray(0, end - begin + 1) }, end };
}

/** Checks the keys (all of them, before any update) and returns their UTF-16 lengths for nextBatch. */
export function checkKeysNative(where: string, keys: unknown): Uint32Array {
  const lengths = new Uint32Array(Array.isArray(keys) ? keys.length : 0);
  checkKeys(where, keys, lengths);
  return lengths;
}

/** Adds counts[i] (or 1) to keys[i]; writes each key's estimate after its update when `estimates` is given. */
export function updateManyNative(
  s: SketchState,
  keys: readonly unknown[],
  lengths: Uint32Array,
  counts: Float64Array | null,
  estimates: Float64Array | null,
  where: string,
): void {
  const addon = requireNative();
  for (let begin = 0; begin < keys.length; ) {
    const { batch, end } = nextBatch(keys, lengths, begin, where);
    addon.countminUpdate(s.counters, s.shape, batch.keys, batch.offsets, counts && counts.subarray(begin, end), estimates && estimates.subarray(begin, end));
    begin = end;
  }
}

export function estimateManyNative(s: SketchState, keys: readonly unknown[], lengths: Uint32Array, out: Float64Array, where: string): void {
  const addon = requireNative();
  for (let begin = 0; begin < keys.length; ) {
    const { batch, end } = nextBatch(keys, lengths, begin, where);
    addon.countminEstimate(s.counters, s.shape, batch.keys, batch.offsets, out.subarray(begin, end));
    begin = end;
  }
}

/** A key as the addon takes it: a string as itself, anything else as its encoded bytes. */
function nativeKey(key: unknown, where: string): string | Uint8Array {
  if (typeof key === 'string' || key instanceof Uint8Array) return key;
  encodeKey(where, key);
  return keyBytes.subarray(keyStart, keyEnd);
}

export function updateNative(s: SketchState, key: unknown, count: number, where: string): number {
  return requireNative().countminUpdateOne(s.counters, s.shape, nativeKey(key, where), count);
}

export function estimateNative(s: SketchState, key: unknown, where: string): number {
  return requireNative().countminEstimateOne(s.counters, s.shape, nativeKey(key, where));
}

export function mergeNative(dst: Uint32Array, src: Uint32Array, wide: boolean, weight: number): void {
  requireNative().countminMerge(dst, src, wide, weight);
}

/** xxHash64 of bytes with a (hi, lo) seed. */
export function hashNative(bytes: Uint8Array, seedHi: number, seedLo: number): bigint {
  return requireNative().countminHash(bytes, seedLo, seedHi);
}
