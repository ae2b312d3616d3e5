// Pure-TS count-min kernel: the twin of native/countmin/countmin_kernel.cc. Counters are a
// Uint32Array, row-major (row r, column c at r * width + c); u64 counters are little-endian
// (lo, hi) uint32 pairs, the native layout, so one buffer serves both backends and the format.
import { hashKey } from './hash.js';
import { lastHash } from './xxh64.js';

const U32_MAX = 0xffffffff;
const TWO32 = 4294967296;

/** High 32 bits of the unsigned 32x32 product, from 16-bit halves (each partial product < 2^32). */
function mulHi32(a: number, b: number): number {
  const a0 = a & 0xffff,
    a1 = a >>> 16,
    b0 = b & 0xffff,
    b1 = b >>> 16;
  const lowLow = a0 * b0,
    highLow = a1 * b0,
    lowHigh = a0 * b1;
  const carry = ((lowLow >>> 16) + (highLow & 0xffff) + (lowHigh & 0xffff)) >>> 16;
  return a1 * b1 + (highLow >>> 16) + (lowHigh >>> 16) + carry;
}

/** Everything a kernel call needs about one sketch. `shape` is the same data packed for the addon. */
export interface SketchState {
  width: number;
  depth: number;
  seedHi: number;
  seedLo: number;
  wide: boolean;
  conservative: boolean;
  counters: Uint32Array;
  /** [width, depth, seedLo, seedHi, wide, conservative] for the native binding. */
  shape: Uint32Array;
}

/**
 * Cell index of row `row` for the last hash: g = (lo32 + row * hi32) mod 2^32 (Kirsch–Mitzenmacher),
 * column floor(g * width / 2^32) (multiply-shift range reduction), as in the C++ Column().
 */
function cell(row: number, width: number): number {
  return row * width + mulHi32((lastHash[1] + Math.imul(row, lastHash[0])) | 0, width);
}

function updateU32(s: SketchState, count: number): number {
  const c = s.counters;
  let best = U32_MAX;
  if (s.conservative) {
    for (let r = 0; r < s.depth; r++) best = Math.min(best, c[cell(r, s.width)]);
    const target = Math.min(best + count, U32_MAX);
    for (let r = 0; r < s.depth; r++) {
      const i = cell(r, s.width);
      if (c[i] < target) c[i] = target;
    }
    return target;
  }
  for (let r = 0; r < s.depth; r++) {
    const i = cell(r, s.width);
    const v = Math.max(0, Math.min(c[i] + count, U32_MAX));
    c[i] = v;
    if (v < best) best = v;
  }
  return best;
}

// u64 cells as (hi, lo) pairs: counters[2i] is the low word, counters[2i + 1] the high word.
function valueU64(c: Uint32Array, i: number): number {
  return c[2 * i + 1] * TWO32 + c[2 * i];
}

function lessU64(c: Uint32Array, i: number, hi: number, lo: number): boolean {
  const h = c[2 * i + 1];
  return h < hi || (h === hi && c[2 * i] < lo);
}

/** Adds a safe-integer count to cell i, clamping to [0, 2^64 - 1]. */
function addU64(c: Uint32Array, i: number, count: number): void {
  const mag = Math.abs(count);
  const mlo = mag >>> 0;
  const mhi = (mag - mlo) / TWO32;
  const lo = c[2 * i],
    hi = c[2 * i + 1];
  if (count >= 0) {
    const sumLo = lo + mlo;
    const sumHi = hi + mhi + (sumLo >= TWO32 ? 1 : 0);
    if (sumHi > U32_MAX) c[2 * i] = c[2 * i + 1] = U32_MAX;
    else {
      c[2 * i] = sumLo >>> 0;
      c[2 * i + 1] = sumHi;
    }
  } else if (hi < mhi || (hi === mhi && lo <= mlo)) {
    c[2 * i] = c[2 * i + 1] = 0;
  } else {
    const diffLo = lo - mlo;
    c[2 * i] = diffLo >>> 0;
    c[2 * i + 1] = hi - mhi - (diffLo < 0 ? 1 : 0);
  }
}

function minCellU64(s: SketchState): number {
  let best = cell(0, s.width);
  for (let r = 1; r < s.depth; r++) {
    const i = cell(r, s.width);
    if (lessU64(s.counters, i, s.counters[2 * best + 1], s.counters[2 * best])) best = i;
  }
  return best;
}

/** Scratch u64 cell for the conservative target (min + count). */
const targetCell = new Uint32Array(2);

function updateU64(s: SketchState, count: number): number {
  const c = s.counters;
  if (s.conservative) {
    const m = minCellU64(s);
    // target = min + count (saturating): addU64 on a one-cell scratch copy of the minimum.
    targetCell[0] = c[2 * m];
    targetCell[1] = c[2 * m + 1];
    addU64(targetCell, 0, count);
    const tlo = targetCell[0],
      thi = targetCell[1];
    for (let r = 0; r < s.depth; r++) {
      const i = cell(r, s.width);
      if (lessU64(c, i, thi, tlo)) {
        c[2 * i] = tlo;
        c[2 * i + 1] = thi;
      }
    }
    return thi * TWO32 + tlo;
  }
  for (let r = 0; r < s.depth; r++) addU64(c, cell(r, s.width), count);
  return valueU64(c, minCellU64(s));
}

function estimateLast(s: SketchState): number {
  if (s.wide) return valueU64(s.counters, minCellU64(s));
  let best = U32_MAX;
  for (let r = 0; r < s.depth; r++) best = Math.min(best, s.counters[cell(r, s.width)]);
  return best;
}

/** Adds count to the key whose hash xxh64 just left in lastHash; returns its new estimate. */
export function updateHashed(s: SketchState, count: number): number {
  return s.wide ? updateU64(s, count) : updateU32(s, count);
}

/**
 * Adds count to key (validated by the caller: a safe integer, >= 0 under conservative update); returns its new
 * estimate.
 */
export function updateKey(s: SketchState, key: unknown, count: number, where: string): number {
  hashKey(where, key, s.seedHi, s.seedLo);
  return updateHashed(s, count);
}

/** The key's estimate: the minimum of its counters (as a double: exact below 2^53). */
export function estimateKey(s: SketchState, key: unknown, where: string): number {
  hashKey(where, key, s.seedHi, s.seedLo);
  return estimateLast(s);
}

/** dst += weight * src cell by cell, saturating; weight is an integer in [0, 2^32). */
export function mergeCounters(dst: Uint32Array, src: Uint32Array, wide: boolean, weight: number): void {
  if (!wide) {
    for (let i = 0; i < dst.length; i++) dst[i] = Math.min(dst[i] + weight * src[i], U32_MAX);
    return;
  }
  for (let i = 0; i < dst.length; i += 2) {
    const slo = src[i],
      shi = src[i + 1];
    // weight * slo as an exact 64-bit (hi, lo); weight * shi only matters while it is < 2^32.
    const prodLo = Math.imul(weight, slo) >>> 0;
    const lo = prodLo + dst[i];
    const hi = mulHi32(weight, slo) + weight * shi + dst[i + 1] + (lo >= TWO32 ? 1 : 0);
    if (hi > U32_MAX) dst[i] = dst[i + 1] = U32_MAX;
    else {
      dst[i] = lo >>> 0;
      dst[i + 1] = hi;
    }
  }
}
