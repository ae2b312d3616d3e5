// Pure-TS xxHash64 (spec v0.1.1) in 32-bit limb arithmetic, plus the key encoding both backends
// share. No BigInt on the hot path: a 64-bit value is a (hi, lo) pair of uint32 numbers, products
// are split into 16-bit halves so every intermediate stays exact in a double. Matches
// native/countmin/countmin_kernel.cc bit for bit (tests check both against published vectors and
// the reference implementation).
import { typeName } from '../core/validate.js';

/** A sketch key: hashed as UTF-8 (string), as-is (Uint8Array, Buffer) or as 8 little-endian bytes of int64 (number, bigint). */
export type Key = string | Uint8Array | number | bigint;

// The xxHash64 primes as (hi, lo) int32 words.
const P1H = 0x9e3779b1 | 0,
  P1L = 0x85ebca87 | 0;
const P2H = 0xc2b2ae3d | 0,
  P2L = 0x27d4eb4f | 0;
const P3H = 0x165667b1 | 0,
  P3L = 0x9e3779f9 | 0;
const P4H = 0x85ebca77 | 0,
  P4L = 0xc2b2ae63 | 0;
const P5H = 0x27d4eb2f | 0,
  P5L = 0x165667c5 | 0;
const TWO32 = 4294967296;

// Result registers of the 64-bit helpers below: [hi, lo]. Words are int32 throughout (| 0, not
// >>> 0): V8 keeps int32 arithmetic in machine words, while uint32 values above 2^31 become
// doubles that deoptimize Smi code and get boxed when stored outside a typed array.
const R = new Int32Array(2);

/** High 32 bits of the unsigned 32x32 product, from 16-bit halves (each partial product < 2^32). */
export function mulHi32(a: number, b: number): number {
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

/** (R[0], R[1]) = a * b mod 2^64. */
function mul64(ah: number, al: number, bh: number, bl: number): void {
  R[1] = Math.imul(al, bl);
  R[0] = (mulHi32(al, bl) + Math.imul(ah, bl) + Math.imul(al, bh)) | 0;
}

/** (R[0], R[1]) = a + b mod 2^64; the carry is an unsigned overflow of the low words. */
function add64(ah: number, al: number, bh: number, bl: number): void {
  const lo = (al + bl) | 0;
  R[1] = lo;
  R[0] = (ah + bh + (lo >>> 0 < al >>> 0 ? 1 : 0)) | 0;
}

/** (R[0], R[1]) = rotl(a, r) for 0 < r < 32. */
function rotl64(ah: number, al: number, r: number): void {
  R[0] = (ah << r) | (al >>> (32 - r));
  R[1] = (al << r) | (ah >>> (32 - r));
}

function read32(b: Uint8Array, p: number): number {
  return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
}

/** (R[0], R[1]) = round(acc, lane) = rotl(acc + lane * P2, 31) * P1. */
function round(acch: number, accl: number, laneh: number, lanel: number): void {
  mul64(laneh, lanel, P2H, P2L);
  add64(acch, accl, R[0], R[1]);
  rotl64(R[0], R[1], 31);
  mul64(R[0], R[1], P1H, P1L);
}

/** (R[0], R[1]) = h + rotl(v, r). */
function addRotated(hh: number, hl: number, vh: number, vl: number, r: number): void {
  rotl64(vh, vl, r);
  add64(hh, hl, R[0], R[1]);
}

/** (R[0], R[1]) = (h ^ round(0, v)) * P1 + P4. */
function mergeRound(hh: number, hl: number, vh: number, vl: number): void {
  round(0, 0, vh, vl);
  mul64(hh ^ R[0], hl ^ R[1], P1H, P1L);
  add64(R[0], R[1], P4H, P4L);
}

/** The last hash computed by xxh64(): [high 32 bits, low 32 bits]. */
export const lastHash = new Uint32Array(2);

/** xxHash64 of bytes[start, end) with seed (seedHi, seedLo); the result lands in lastHash. */
export function xxh64(bytes: Uint8Array, start: number, end: number, seedHi: number, seedLo: number): void {
  const length = end - start;
  let p = start;
  let hh: number, hl: number;
  if (length >= 32) {
    add64(seedHi, seedLo, P1H, P1L);
    add64(R[0], R[1], P2H, P2L);
    let v1h = R[0],
      v1l = R[1];
    add64(seedHi, seedLo, P2H, P2L);
    let v2h = R[0],
      v2l = R[1];
    let v3h = seedHi,
      v3l = seedLo;
    add64(seedHi, seedLo, ~P1H, ~P1L); // seed - P1 = seed + ~P1 + 1
    add64(R[0], R[1], 0, 1);
    let v4h = R[0],
      v4l = R[1];
    for (const limit = end - 32; p <= limit; p += 32) {
      round(v1h, v1l, read32(bytes, p + 4), read32(bytes, p));
      v1h = R[0];
      v1l = R[1];
      round(v2h, v2l, read32(bytes, p + 12), read32(bytes, p + 8));
      v2h = R[0];
      v2l = R[1];
      round(v3h, v3l, read32(bytes, p + 20), read32(bytes, p + 16));
      v3h = R[0];
      v3l = R[1];
      round(v4h, v4l, read32(bytes, p + 28), read32(bytes, p + 24));
      v4h = R[0];
      v4l = R[1];
    }
    // h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18), then one merge round per lane.
    rotl64(v1h, v1l, 1);
    hh = R[0];
    hl = R[1];
    addRotated(hh, hl, v2h, v2l, 7);
    addRotated(R[0], R[1], v3h, v3l, 12);
    addRotated(R[0], R[1], v4h, v4l, 18);
    mergeRound(R[0], R[1], v1h, v1l);
    mergeRound(R[0], R[1], v2h, v2l);
    mergeRound(R[0], R[1], v3h, v3l);
    mergeRound(R[0], R[1], v4h, v4l);
    hh = R[0];
    hl = R[1];
  } else {
    add64(seedHi, seedLo, P5H, P5L);
    hh = R[0];
    hl = R[1];
  }
  add64(hh, hl, Math.floor(length / TWO32), length | 0);
  hh = R[0];
  hl = R[1];
  for (; p + 8 <= end; p += 8) {
    round(0, 0, read32(bytes, p + 4), read32(bytes, p));
    rotl64(hh ^ R[0], hl ^ R[1], 27);
    mul64(R[0], R[1], P1H, P1L);
    add64(R[0], R[1], P4H, P4L);
    hh = R[0];
    hl = R[1];
  }
  if (p + 4 <= end) {
    mul64(0, read32(bytes, p), P1H, P1L);
    rotl64(hh ^ R[0], hl ^ R[1], 23);
    mul64(R[0], R[1], P2H, P2L);
    add64(R[0], R[1], P3H, P3L);
    hh = R[0];
    hl = R[1];
    p += 4;
  }
  for (; p < end; p++) {
    mul64(0, bytes[p], P5H, P5L);
    rotl64(hh ^ R[0], hl ^ R[1], 11);
    mul64(R[0], R[1], P1H, P1L);
    hh = R[0];
    hl = R[1];
  }
  // Avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32.
  hl ^= hh >>> 1;
  mul64(hh, hl, P2H, P2L);
  hh = R[0];
  hl = R[1];
  hl ^= (hl >>> 29) | (hh << 3);
  hh ^= hh >>> 29;
  mul64(hh, hl, P3H, P3L);
  lastHash[0] = R[0];
  lastHash[1] = R[1] ^ R[0];
}

/** Splits a seed (number or bigint in [0, 2^64)) into uint32 halves. */
export function seedHalves(where: string, seed: unknown): { hi: number; lo: number; seed: bigint } {
  let big: bigint;
  if (typeof seed === 'bigint') big = seed;
  else if (typeof seed === 'number') {
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new RangeError(`${where}: seed must be an integer in [0, 2^53) or a bigint in [0, 2^64), got ${seed}`);
    big = BigInt(seed);
  } else throw new TypeError(`${where}: seed must be a number or bigint, got ${typeName(seed)}`);
  if (big < 0n || big >= 1n << 64n) throw new RangeError(`${where}: seed must be in [0, 2^64), got ${big}`);
  return { hi: Number(big >> 32n), lo: Number(big & 0xffffffffn), seed: big };
}

// Scratch space the encoders write into; grown on demand, reused across calls.
let scratch = new Uint8Array(256);

/** The bytes of the last encodeKey() call: scratch-or-key[keyStart, keyEnd). Valid until the next call. */
export let keyBytes: Uint8Array = scratch;
export let keyStart = 0;
export let keyEnd = 0;

function ensureScratch(size: number): void {
  if (scratch.length < size) scratch = new Uint8Array(Math.max(size, scratch.length * 2));
}

/** UTF-8 of a string into scratch[0, n), unpaired surrogates as U+FFFD (TextEncoder's rule); returns n. */
function encodeUtf8(s: string): number {
  ensureScratch(s.length * 3);
  const out = scratch;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i);
    if (cp < 0x80) {
      out[n++] = cp;
      continue;
    }
    if (cp >= 0xd800 && cp <= 0xdfff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (cp <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else cp = 0xfffd;
    }
    if (cp < 0x800) out[n++] = 0xc0 | (cp >> 6);
    else if (cp < 0x10000) {
      out[n++] = 0xe0 | (cp >> 12);
      out[n++] = 0x80 | ((cp >> 6) & 0x3f);
    } else {
      out[n++] = 0xf0 | (cp >> 18);
      out[n++] = 0x80 | ((cp >> 12) & 0x3f);
      out[n++] = 0x80 | ((cp >> 6) & 0x3f);
    }
    out[n++] = 0x80 | (cp & 0x3f);
  }
  return n;
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** 8 little-endian bytes of a two's complement int64 into scratch[0, 8). */
function encodeInt64(hi: number, lo: number): void {
  ensureScratch(8);
  for (let i = 0; i < 4; i++) {
    scratch[i] = (lo >>> (8 * i)) & 0xff;
    scratch[4 + i] = (hi >>> (8 * i)) & 0xff;
  }
}

/**
 * Encodes a key to the bytes the sketch hashes, exposed as (keyBytes, keyStart, keyEnd):
 * a string as UTF-8, a Uint8Array as itself, a number (a safe integer) or bigint (int64) as 8
 * little-endian two's complement bytes, so 5 and 5n are the same key.
 */
export function encodeKey(where: string, key: unknown): void {
  if (typeof key === 'string') {
    keyEnd = encodeUtf8(key);
  } else if (key instanceof Uint8Array) {
    keyBytes = key;
    keyStart = 0;
    keyEnd = key.length;
    return;
  } else if (typeof key === 'number') {
    if (!Number.isSafeInteger(key)) throw new RangeError(`${where}: a number key must be a safe integer, got ${key}`);
    const lo = key >>> 0; // key mod 2^32, also for negatives
    encodeInt64(((key - lo) / TWO32) >>> 0, lo);
    keyEnd = 8;
  } else if (typeof key === 'bigint') {
    if (key < INT64_MIN || key > INT64_MAX)
      throw new RangeError(`${where}: a bigint key must fit in int64, got ${key}`);
    const u = BigInt.asUintN(64, key);
    encodeInt64(Number(u >> 32n), Number(u & 0xffffffffn));
    keyEnd = 8;
  } else {
    throw new TypeError(`${where}: a key must be a string, Uint8Array, number or bigint, got ${typeName(key)}`);
  }
  keyBytes = scratch;
  keyStart = 0;
}

/** Marks a key that is not a string in checkKeys()'s `lengths`. */
export const NOT_A_STRING = 0xffffffff;

/** keys.length, or a TypeError when keys is not an Array. */
export function keyCount(where: string, keys: unknown): number {
  if (!Array.isArray(keys)) throw new TypeError(`${where}: keys must be an Array, got ${typeName(keys)}`);
  return keys.length;
}

/**
 * Checks the type and range of keys[start, end), so a batch with a bad key changes nothing. With
 * `lengths` it also records each string's UTF-16 length at lengths[i - start] (NOT_A_STRING for
 * other keys), so the native path batches without reading the strings a second time.
 */
export function checkKeys(
  where: string,
  keys: unknown,
  start = 0,
  end = keyCount(where, keys),
  lengths?: Uint32Array,
): void {
  const list = keys as readonly unknown[];
  for (let i = start; i < end; i++) {
    const k = list[i];
    if (typeof k === 'string') {
      if (lengths) lengths[i - start] = k.length;
      continue;
    }
    if (lengths) lengths[i - start] = NOT_A_STRING;
    if (k instanceof Uint8Array) continue;
    const bad =
      typeof k === 'number'
        ? !Number.isSafeInteger(k)
        : typeof k === 'bigint'
          ? k < INT64_MIN || k > INT64_MAX
          : undefined;
    if (bad === undefined)
      throw new TypeError(`${where}: keys[${i}] must be a string, Uint8Array, number or bigint, got ${typeName(k)}`);
    if (bad)
      throw new RangeError(`${where}: keys[${i}] must be a safe integer (number) or fit in int64 (bigint), got ${k}`);
  }
}

/** Hashes one key with the pure-TS xxh64; the result lands in lastHash. */
export function hashKey(where: string, key: unknown, seedHi: number, seedLo: number): void {
  encodeKey(where, key);
  xxh64(keyBytes, keyStart, keyEnd, seedHi, seedLo);
}
