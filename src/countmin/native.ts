// Binding glue: passes batches of keys to the C++ kernel in as few crossings as possible. A batch
// of strings crosses as one joined string plus UTF-16 offsets (the addon reads it as UTF-8 in one
// call when it is ASCII, else as UTF-16 that it encodes itself); any other mix is encoded here to
// one UTF-8/byte buffer plus byte offsets.
import { requireNative } from '../core/loader.js';
import { checkKeys, encodeKey, keyBytes, keyEnd, keyStart, NOT_A_STRING } from './hash.js';
import type { SketchState } from './kernel.js';
import type { LineCandidate, LineFormat } from './lines.js';

/** Keys per native call; also bounds the temporary joined string and offsets. */
const BATCH_KEYS = 8_192;
/** UTF-16 units (or bytes) per native call, so a batch of long keys stays a bounded allocation. */
const BATCH_UNITS = 1 << 24;

/**
 * A multi-batch updateMany snapshots the counters when they are at most this many bytes per key
 * (restoring them if a later batch holds a bad key); larger sketches validate every key first.
 */
const SNAPSHOT_BYTES_PER_KEY = 16;

/** The buffers one call packs its batches in: offsets, string lengths and the bytes of a byte batch. */
interface BatchScratch {
  offsets: Uint32Array;
  lengths: Uint32Array;
  bytes: Uint8Array;
}

const newScratch = (): BatchScratch => ({
  offsets: new Uint32Array(BATCH_KEYS + 1),
  lengths: new Uint32Array(BATCH_KEYS),
  bytes: new Uint8Array(1 << 16),
});

let idleScratch: BatchScratch | null = newScratch();

/**
 * The batch buffers for one call, reused by the next. A getter on the keys array can call updateMany again while a
 * batch is being packed: that nested call gets buffers of its own rather than overwriting the outer call's.
 */
function acquireScratch(): BatchScratch {
  const scratch = idleScratch ?? newScratch();
  idleScratch = null;
  return scratch;
}

function releaseScratch(scratch: BatchScratch): void {
  idleScratch = scratch;
}

/** One batch in the addon's shape: keys (string or bytes) plus offsets[0..n]. */
interface Batch {
  keys: string | Uint8Array;
  offsets: Uint32Array;
}

/**
 * Validates and packs the batch starting at `begin` (at most BATCH_KEYS keys and BATCH_UNITS
 * units); returns it and where it stopped. Each string is read by the check and by join only.
 */
function nextBatch(
  scratch: BatchScratch,
  keys: readonly unknown[],
  begin: number,
  where: string,
): { batch: Batch; end: number } {
  const limit = Math.min(keys.length, begin + BATCH_KEYS);
  const { offsets, lengths } = scratch;
  checkKeys(where, keys, begin, limit, lengths);
  let units = 0;
  let end = begin;
  for (; end < limit; end++) {
    const length = lengths[end - begin];
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
    if (size + n > scratch.bytes.length) {
      const grown = new Uint8Array(Math.max(size + n, scratch.bytes.length * 2));
      grown.set(scratch.bytes.subarray(0, size));
      scratch.bytes = grown;
    }
    scratch.bytes.set(keyBytes.subarray(keyStart, keyEnd), size);
    offsets[end - begin + 1] = size += n;
  }
  return { batch: { keys: scratch.bytes, offsets: offsets.subarray(0, end - begin + 1) }, end };
}

/**
 * Adds counts[i] (or 1) to keys[i] (an Array, its elements unchecked), writing each key's estimate
 * after its update when `estimates` is given. All or nothing: a bad key leaves the counters as
 * they were, by a check of every key up front or, when cheaper, a snapshot of the counters
 * restored on error (then each key is read once before join, not twice).
 */
export function updateManyNative(
  s: SketchState,
  keys: readonly unknown[],
  counts: Float64Array | null,
  estimates: Float64Array | null,
  where: string,
): void {
  const addon = requireNative();
  const batches = keys.length > BATCH_KEYS;
  const snapshot = batches && s.counters.byteLength <= keys.length * SNAPSHOT_BYTES_PER_KEY ? s.counters.slice() : null;
  if (batches && !snapshot) checkKeys(where, keys);
  // Many batches go through a pipeline: a pool thread hashes each batch while the next is packed.
  let pipeline = batches ? addon.countminPipelineOpen(estimates !== null) : null;
  // The estimates of the batch in flight, written when it is added (at the next push or the close).
  let inFlight: Float64Array | null = null;
  const scratch = acquireScratch();
  try {
    for (let begin = 0; begin < keys.length;) {
      const { batch, end } = nextBatch(scratch, keys, begin, where);
      const batchCounts = counts && counts.subarray(begin, end);
      if (pipeline) {
        addon.countminPipelinePush(pipeline, s.counters, s.shape, batch.keys, batch.offsets, batchCounts, inFlight);
        inFlight = estimates && estimates.subarray(begin, end);
      } else {
        addon.countminUpdate(
          s.counters,
          s.shape,
          batch.keys,
          batch.offsets,
          batchCounts,
          estimates && estimates.subarray(begin, end),
        );
      }
      begin = end;
    }
    const last = pipeline;
    pipeline = null;
    if (last) addon.countminPipelineClose(last, s.counters, s.shape, inFlight);
  } catch (error) {
    // With a snapshot the counters go back to it. Without one every key was checked up front, so only the addon can
    // have failed, and the counters keep the batches added before (a pipeline's batch in flight is dropped).
    if (snapshot) s.counters.set(snapshot);
    try {
      if (pipeline) addon.countminPipelineClose(pipeline, null, null, null);
    } catch {
      // The close still closed it (dropping the batch); the error that stopped the call is the one to report.
    }
    throw error;
  } finally {
    releaseScratch(scratch);
  }
}

export function estimateManyNative(s: SketchState, keys: readonly unknown[], out: Float64Array, where: string): void {
  const addon = requireNative();
  const scratch = acquireScratch();
  try {
    for (let begin = 0; begin < keys.length;) {
      const { batch, end } = nextBatch(scratch, keys, begin, where);
      addon.countminEstimate(s.counters, s.shape, batch.keys, batch.offsets, out.subarray(begin, end));
      begin = end;
    }
  } finally {
    releaseScratch(scratch);
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

export function updateLinesNative(s: SketchState, bytes: Uint8Array, format: LineFormat, threads: number): number {
  return requireNative().countminUpdateLines(s.counters, s.shape, bytes, format.separator, format.stripCR, threads);
}

export function updateLinesCandidatesNative(
  s: SketchState,
  bytes: Uint8Array,
  format: LineFormat,
  threshold: number,
  limit: number,
): { keys: number; candidates: LineCandidate[] } {
  const packed = requireNative().countminUpdateLinesCandidates(
    s.counters,
    s.shape,
    bytes,
    format.separator,
    format.stripCR,
    threshold,
    limit,
  );
  const candidates: LineCandidate[] = [];
  for (let i = 1; i < packed.length; i += 3) {
    candidates.push({ bytes: bytes.subarray(packed[i], packed[i] + packed[i + 1]), estimate: packed[i + 2] });
  }
  return { keys: packed[0], candidates };
}

/** xxHash64 of bytes with a (hi, lo) seed. */
export function hashNative(bytes: Uint8Array, seedHi: number, seedLo: number): bigint {
  return requireNative().countminHash(bytes, seedLo, seedHi);
}
