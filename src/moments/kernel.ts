// Pure-TS twin of native/moments/moments_kernel.cc: same block size, lane order and merge
// formulas, so both backends return bit-identical partials for the same input.
import type { FloatArray } from '../core/validate.js';

export const enum NanPolicyCode {
  Propagate = 0,
  Omit = 1,
  Raise = 2,
}

/**
 * Count, mean, central sums M2..M4 (sums of powered deviations, not divided by n), min, max.
 * The mean is stored relative to `shift` (the first finite value seen), so 1e9 + noise merges
 * through small, exact differences: true mean = shift + mean.
 */
export interface Partial {
  n: number;
  shift: number;
  mean: number;
  m2: number;
  m3: number;
  m4: number;
  min: number;
  max: number;
  nanCount: number;
}

export const BLOCK = 2048;

export function emptyPartial(): Partial {
  return { n: 0, shift: 0, mean: 0, m2: 0, m3: 0, m4: 0, min: Infinity, max: -Infinity, nanCount: 0 };
}

/** Pébay's pairwise formulas: merging two partials is exact up to rounding. */
export function mergePartials(a: Partial, b: Partial): Partial {
  if (a.n === 0) return { ...b, nanCount: a.nanCount + b.nanCount };
  if (b.n === 0) return { ...a, nanCount: a.nanCount + b.nanCount };
  const na = a.n;
  const nb = b.n;
  const n = na + nb;
  const delta = b.shift - a.shift + (b.mean - a.mean);
  const dn = delta / n;
  const dn2 = dn * dn;
  const nanb = na * nb;
  return {
    n,
    shift: a.shift,
    mean: a.mean + nb * dn,
    m2: a.m2 + b.m2 + delta * dn * nanb,
    m3: a.m3 + b.m3 + delta * dn2 * nanb * (na - nb) + 3.0 * dn * (na * b.m2 - nb * a.m2),
    m4:
      a.m4 +
      b.m4 +
      delta * dn2 * dn * nanb * (na * na - nanb + nb * nb) +
      6.0 * dn2 * (na * na * b.m2 + nb * nb * a.m2) +
      4.0 * dn * (na * b.m3 - nb * a.m3),
    min: a.min < b.min || Number.isNaN(a.min) ? a.min : b.min,
    max: a.max > b.max || Number.isNaN(a.max) ? a.max : b.max,
    nanCount: a.nanCount + b.nanCount,
  };
}

function hasNaN(x: ArrayLike<number>, start: number, len: number): boolean {
  for (let i = start; i < start + len; i++) if (x[i] !== x[i]) return true;
  return false;
}

// Moments of x[start, start+len): two passes over an L1-sized block, four lanes. Returns null when
// the block holds a NaN. A NaN always poisons the lane sums, so only a NaN sum (rare: NaN input or
// +Inf meeting -Inf) pays for the explicit scan.
function block(x: ArrayLike<number>, start: number, len: number, shift: number): Partial | null {
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0;
  let lo0 = Infinity,
    lo1 = Infinity,
    lo2 = Infinity,
    lo3 = Infinity;
  let hi0 = -Infinity,
    hi1 = -Infinity,
    hi2 = -Infinity,
    hi3 = -Infinity;
  const body = start + len - (len % 4);
  const end = start + len;
  let i = start;
  for (; i < body; i += 4) {
    const v0 = x[i],
      v1 = x[i + 1],
      v2 = x[i + 2],
      v3 = x[i + 3];
    s0 += v0 - shift;
    s1 += v1 - shift;
    s2 += v2 - shift;
    s3 += v3 - shift;
    lo0 = v0 < lo0 ? v0 : lo0;
    lo1 = v1 < lo1 ? v1 : lo1;
    lo2 = v2 < lo2 ? v2 : lo2;
    lo3 = v3 < lo3 ? v3 : lo3;
    hi0 = v0 > hi0 ? v0 : hi0;
    hi1 = v1 > hi1 ? v1 : hi1;
    hi2 = v2 > hi2 ? v2 : hi2;
    hi3 = v3 > hi3 ? v3 : hi3;
  }
  // Tail elements go to lanes 0, 1, 2 in order, as in the C++ kernel.
  if (i < end) {
    const v = x[i++];
    s0 += v - shift;
    lo0 = v < lo0 ? v : lo0;
    hi0 = v > hi0 ? v : hi0;
  }
  if (i < end) {
    const v = x[i++];
    s1 += v - shift;
    lo1 = v < lo1 ? v : lo1;
    hi1 = v > hi1 ? v : hi1;
  }
  if (i < end) {
    const v = x[i++];
    s2 += v - shift;
    lo2 = v < lo2 ? v : lo2;
    hi2 = v > hi2 ? v : hi2;
  }
  const sum = s0 + s1 + (s2 + s3);
  if (sum !== sum && hasNaN(x, start, len)) return null;
  const mean = sum / len;
  let min = lo0,
    max = hi0;
  min = lo1 < min ? lo1 : min;
  max = hi1 > max ? hi1 : max;
  min = lo2 < min ? lo2 : min;
  max = hi2 > max ? hi2 : max;
  min = lo3 < min ? lo3 : min;
  max = hi3 > max ? hi3 : max;

  let a0 = 0,
    a1 = 0,
    a2 = 0,
    a3 = 0; // M2 lanes
  let b0 = 0,
    b1 = 0,
    b2 = 0,
    b3 = 0; // M3 lanes
  let c0 = 0,
    c1 = 0,
    c2 = 0,
    c3 = 0; // M4 lanes
  for (i = start; i < body; i += 4) {
    const d0 = x[i] - shift - mean,
      d1 = x[i + 1] - shift - mean;
    const d2 = x[i + 2] - shift - mean,
      d3 = x[i + 3] - shift - mean;
    const e0 = d0 * d0,
      e1 = d1 * d1,
      e2 = d2 * d2,
      e3 = d3 * d3;
    a0 += e0;
    a1 += e1;
    a2 += e2;
    a3 += e3;
    b0 += e0 * d0;
    b1 += e1 * d1;
    b2 += e2 * d2;
    b3 += e3 * d3;
    c0 += e0 * e0;
    c1 += e1 * e1;
    c2 += e2 * e2;
    c3 += e3 * e3;
  }
  if (i < end) {
    const d = x[i++] - shift - mean,
      e = d * d;
    a0 += e;
    b0 += e * d;
    c0 += e * e;
  }
  if (i < end) {
    const d = x[i++] - shift - mean,
      e = d * d;
    a1 += e;
    b1 += e * d;
    c1 += e * e;
  }
  if (i < end) {
    const d = x[i++] - shift - mean,
      e = d * d;
    a2 += e;
    b2 += e * d;
    c2 += e * e;
  }
  return {
    n: len,
    shift,
    mean,
    m2: a0 + a1 + (a2 + a3),
    m3: b0 + b1 + (b2 + b3),
    m4: c0 + c1 + (c2 + c3),
    min,
    max,
    nanCount: 0,
  };
}

const scratch = new Float64Array(BLOCK);

/** Moments of a whole array; throws RangeError on the first NaN under the 'raise' policy. */
export function accumulate(x: FloatArray, policy: NanPolicyCode, where: string): Partial {
  let total = emptyPartial();
  let shift = 0;
  for (let i = 0; i < x.length; i++) {
    if (Number.isFinite(x[i])) {
      shift = x[i];
      break;
    }
  }
  for (let start = 0; start < x.length; start += BLOCK) {
    const len = Math.min(BLOCK, x.length - start);
    const clean = block(x, start, len, shift);
    if (clean) {
      total = mergePartials(total, clean);
      continue;
    }
    let nans = 0;
    for (let i = start; i < start + len; i++) if (x[i] !== x[i]) nans++;
    let part: Partial;
    if (policy === NanPolicyCode.Propagate) {
      part = { n: len, shift: 0, mean: NaN, m2: NaN, m3: NaN, m4: NaN, min: NaN, max: NaN, nanCount: nans };
    } else if (policy === NanPolicyCode.Raise) {
      // Bounded by the block: another thread may have overwritten the NaN meanwhile (shared memory).
      let i = start;
      while (i < start + len && x[i] === x[i]) i++;
      if (i === start + len) {
        const why = 'values contained NaN that another thread overwrote during the call';
        throw new RangeError(`${where}: ${why} (nan: 'raise')`);
      }
      throw new RangeError(`${where}: values contains NaN at index ${i} (nan: 'raise')`);
    } else {
      let k = 0;
      for (let i = start; i < start + len; i++) if (x[i] === x[i]) scratch[k++] = x[i];
      part = (k > 0 ? block(scratch, 0, k, shift) : null) ?? emptyPartial();
      part.nanCount = nans;
    }
    total = mergePartials(total, part);
  }
  return total;
}
