// The key encoding both backends share (UTF-8, bytes as-is, int64 little-endian) and the pure-TS hash of a
// key: xxHash64 from ./xxh64.ts, generated so that V8 compiles it the same way in every process.
import { typeName } from '../core/validate.js';
import { xxh64 } from './xxh64.js';

/**
 * A sketch key: hashed as UTF-8 (string), as-is (Uint8Array, Buffer) or as 8 little-endian bytes of int64
 * (number, bigint).
 */
export type Key = string | Uint8Array | number | bigint;

const TWO32 = 4294967296;

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
