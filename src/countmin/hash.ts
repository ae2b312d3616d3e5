// Pure-TS xxHash64 (spec v0.1.1) in 32-bit limb arithmetic, plus the key encoding both backends
// share. No BigInt on the hot path: a 64-bit value is a (hi, lo) pair of int32 words, products
// are split into 16-bit halves so every intermediate stays exact in a double. Matches
// native/countmin/countmin_kernel.cc bit for bit (tests check both against published vectors and
// the reference implementation).
import { typeName } from '../core/validate.js';

/**
 * A sketch key: hashed as UTF-8 (string), as-is (Uint8Array, Buffer) or as 8 little-endian bytes of int64
 * (number, bigint).
 */
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
// The seeds of two stripe accumulators: P1 + P2 and -P1, mod 2^64.
const P12H = 0x60ea27ee | 0,
  P12L = 0xadc0b5d6 | 0;
const MINUS_P1H = 0x61c8864e | 0,
  MINUS_P1L = 0x7a143579 | 0;
const TWO32 = 4294967296;

// Words are int32 throughout (| 0, not >>> 0): V8 keeps int32 arithmetic in machine words, while uint32 values
// above 2^31 become doubles that deoptimize Smi code and get boxed when stored outside a typed array. The helpers
// each return one word, so V8 inlines them and keeps every intermediate in a register; only round() hands back a
// pair, through (outHi, outLo).

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

/** High word of a * b mod 2^64 (the low word is Math.imul(al, bl)). */
function mulHi(ah: number, al: number, bh: number, bl: number): number {
  return (mulHi32(al, bl) + Math.imul(ah, bl) + Math.imul(al, bh)) | 0;
}

/** High word of a + b mod 2^64, given the low word of the sum, sumLo = (al + bl) | 0. */
function addHi(ah: number, al: number, bh: number, sumLo: number): number {
  return (ah + bh + (sumLo >>> 0 < al >>> 0 ? 1 : 0)) | 0;
}

/** High and low words of rotl(a, r) for 0 < r < 32. */
function rotlHi(ah: number, al: number, r: number): number {
  return (ah << r) | (al >>> (32 - r));
}
function rotlLo(ah: number, al: number, r: number): number {
  return (al << r) | (ah >>> (32 - r));
}

let outHi = 0;
let outLo = 0;

/** The stripe accumulators v1..v4 of a key of 32 bytes or more, as (hi, lo) pairs. */
const stripes = new Int32Array(8);
const STRIPE_ROTATIONS = Int32Array.of(1, 7, 12, 18);

/** (outHi, outLo) = round(acc, lane) = rotl(acc + lane * P2, 31) * P1. */
function round(acch: number, accl: number, laneh: number, lanel: number): void {
  const productLo = Math.imul(lanel, P2L);
  const sumLo = (accl + productLo) | 0;
  const sumHi = addHi(acch, accl, mulHi(laneh, lanel, P2H, P2L), sumLo);
  const rh = rotlHi(sumHi, sumLo, 31),
    rl = rotlLo(sumHi, sumLo, 31);
  outLo = Math.imul(rl, P1L);
  outHi = mulHi(rh, rl, P1H, P1L);
}

/** (outHi, outLo) = (h ^ round(0, v)) * P1 + P4: folds one stripe accumulator into h. */
function mergeRound(hh: number, hl: number, vh: number, vl: number): void {
  round(0, 0, vh, vl);
  const xh = hh ^ outHi,
    xl = hl ^ outLo;
  const productLo = Math.imul(xl, P1L);
  outLo = (productLo + P4L) | 0;
  outHi = addHi(mulHi(xh, xl, P1H, P1L), productLo, P4H, outLo);
}

function read32(b: Uint8Array, p: number): number {
  return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
}

/** The last hash computed by xxh64(): [high 32 bits, low 32 bits]. */
export const lastHash = new Uint32Array(2);

/**
 * (outHi, outLo) = the xxHash64 state after the 32-byte stripes of bytes[start, end), all but the last
 * (end - start) & 31 bytes, plus the length. Apart from xxh64 so that V8's inlining budget for xxh64 goes to
 * the tail steps every key takes.
 */
function hashHead(bytes: Uint8Array, start: number, end: number, seedHi: number, seedLo: number): void {
  const length = end - start;
  let hh = 0,
    hl = 0;
  if (length >= 32) {
    // The four stripe accumulators v1..v4 = seed + P1 + P2, seed + P2, seed, seed - P1, one round each per
    // 32 bytes (one call site of round(), so V8 inlines it).
    const v = stripes;
    v[1] = (seedLo + P12L) | 0;
    v[0] = addHi(seedHi, seedLo, P12H, v[1]);
    v[3] = (seedLo + P2L) | 0;
    v[2] = addHi(seedHi, seedLo, P2H, v[3]);
    v[4] = seedHi;
    v[5] = seedLo;
    v[7] = (seedLo + MINUS_P1L) | 0;
    v[6] = addHi(seedHi, seedLo, MINUS_P1H, v[7]);
    for (let p = start; p <= end - 32; p += 32) {
      for (let i = 0; i < 8; i += 2) {
        round(v[i], v[i + 1], read32(bytes, p + 4 * i + 4), read32(bytes, p + 4 * i));
        v[i] = outHi;
        v[i + 1] = outLo;
      }
    }
    // h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18), then one merge round per accumulator.
    for (let i = 0; i < 8; i += 2) {
      const r = STRIPE_ROTATIONS[i >> 1];
      const sumLo = (hl + rotlLo(v[i], v[i + 1], r)) | 0;
      hh = addHi(hh, hl, rotlHi(v[i], v[i + 1], r), sumLo);
      hl = sumLo;
    }
    for (let i = 0; i < 8; i += 2) {
      mergeRound(hh, hl, v[i], v[i + 1]);
      hh = outHi;
      hl = outLo;
    }
  } else {
    hl = (seedLo + P5L) | 0;
    hh = addHi(seedHi, seedLo, P5H, hl);
  }
  // h += length (below 2^53: its high word is exact as a double quotient).
  outLo = (hl + length) | 0;
  outHi = addHi(hh, hl, Math.floor(length / TWO32), outLo);
}

/** xxHash64 of bytes[start, end) with seed (seedHi, seedLo); the result lands in lastHash. */
export function xxh64(bytes: Uint8Array, start: number, end: number, seedHi: number, seedLo: number): void {
  hashHead(bytes, start, end, seedHi, seedLo);
  let hh = outHi,
    hl = outLo;
  let p = end - ((end - start) & 31);
  for (; p + 8 <= end; p += 8) {
    // h = rotl(h ^ round(0, lane), 27) * P1 + P4
    round(0, 0, read32(bytes, p + 4), read32(bytes, p));
    const xh = hh ^ outHi,
      xl = hl ^ outLo;
    const rh = rotlHi(xh, xl, 27),
      rl = rotlLo(xh, xl, 27);
    const productLo = Math.imul(rl, P1L);
    hl = (productLo + P4L) | 0;
    hh = addHi(mulHi(rh, rl, P1H, P1L), productLo, P4H, hl);
  }
  if (p + 4 <= end) {
    // h = rotl(h ^ (word * P1), 23) * P2 + P3
    const word = read32(bytes, p);
    const xh = hh ^ mulHi(0, word, P1H, P1L),
      xl = hl ^ Math.imul(word, P1L);
    const rh = rotlHi(xh, xl, 23),
      rl = rotlLo(xh, xl, 23);
    const productLo = Math.imul(rl, P2L);
    hl = (productLo + P3L) | 0;
    hh = addHi(mulHi(rh, rl, P2H, P2L), productLo, P3H, hl);
    p += 4;
  }
  for (; p < end; p++) {
    // h = rotl(h ^ (byte * P5), 11) * P1
    const byte = bytes[p];
    const xh = hh ^ mulHi(0, byte, P5H, P5L),
      xl = hl ^ Math.imul(byte, P5L);
    const rh = rotlHi(xh, xl, 11),
      rl = rotlLo(xh, xl, 11);
    hl = Math.imul(rl, P1L);
    hh = mulHi(rh, rl, P1H, P1L);
  }
  // Avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32.
  hl ^= hh >>> 1;
  let ah = mulHi(hh, hl, P2H, P2L),
    al = Math.imul(hl, P2L);
  al ^= (al >>> 29) | (ah << 3);
  ah ^= ah >>> 29;
  const fh = mulHi(ah, al, P3H, P3L);
  lastHash[0] = fh;
  lastHash[1] = Math.imul(al, P3L) ^ fh;
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

const encoder = new TextEncoder();
/**
 * From this many UTF-16 units on, TextEncoder.encodeInto (native, a fixed ~50 ns a call) beats the loop below
 * (~2 ns a unit in V8).
 */
const ENCODE_INTO_UNITS = 32;

/** UTF-8 of a string into scratch[0, n), unpaired surrogates as U+FFFD (TextEncoder's rule); returns n. */
function encodeUtf8(s: string): number {
  ensureScratch(s.length * 3);
  if (s.length >= ENCODE_INTO_UNITS) return encoder.encodeInto(s, scratch).written;
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
