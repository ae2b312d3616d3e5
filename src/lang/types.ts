// The element types the expression language reads and the kinds it computes in, shared by every
// backend (fused JS loop, native VM, and code generators such as OpenCL): one code per typed-array
// class (NumPy's type characters) and numexpr's kinds with its promotion table. typed.ts applies
// the table to a program. Types with no numexpr counterpart (Float16Array) are rejected with a
// TypeError listing the accepted ones.

/**
 * d float64, f float32, i int32, h int16, b int8, I uint32, H uint16, B uint8 (and uint8 clamped),
 * l int64 (BigInt64Array; a BigUint64Array is read as one after a range check), ? bool (a Uint8Array
 * of 0/1 marked `{ data, dtype: 'bool' }`, or an Array of booleans).
 */
export type ArrayCode = 'd' | 'f' | 'i' | 'h' | 'b' | 'I' | 'H' | 'B' | 'l' | '?';

export type ElementArray =
  | Float64Array
  | Float32Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint32Array
  | Uint16Array
  | Uint8Array
  | Uint8ClampedArray
  | BigInt64Array;

/**
 * numexpr's kinds in its promotion order: an operation on two kinds computes in the later one
 * (int32 + int64 is int64, int32 + float32 is float32, as numexpr 2.8). The index is the kind's code
 * in the native bytecode.
 */
export const KINDS = ['bool', 'int32', 'int64', 'float32', 'float64'] as const;
export type Kind = (typeof KINDS)[number];

const ARRAY_CODES: readonly [new (n: number) => ElementArray, ArrayCode][] = [
  [Float64Array, 'd'],
  [Float32Array, 'f'],
  [Int32Array, 'i'],
  [Int16Array, 'h'],
  [Int8Array, 'b'],
  [Uint32Array, 'I'],
  [Uint16Array, 'H'],
  [Uint8Array, 'B'],
  [Uint8ClampedArray, 'B'],
  [BigInt64Array, 'l'],
];

/** numexpr's kind of each array type: small integers compute in int32, uint32 in int64 (it does not fit int32). */
export const KIND_OF_CODE: Readonly<Record<ArrayCode, Kind>> = {
  d: 'float64',
  f: 'float32',
  i: 'int32',
  h: 'int32',
  b: 'int32',
  I: 'int64',
  H: 'int32',
  B: 'int32',
  l: 'int64',
  '?': 'bool',
};

/** For error messages: what a variable may be. */
export const ACCEPTED_VARIABLES =
  'a Float64Array, Float32Array, Int32Array, Int16Array, Int8Array, Uint32Array, Uint16Array, Uint8Array, ' +
  'Uint8ClampedArray, BigInt64Array, BigUint64Array, an Array of booleans, { data: Uint8Array, dtype: ' +
  "'bool' }, a number, a bigint or a boolean";

/** The code of a typed array the expression language reads, or null for any other value. */
export function arrayCode(value: unknown): ArrayCode | null {
  if (!ArrayBuffer.isView(value)) return null;
  for (const [Ctor, code] of ARRAY_CODES) if (value instanceof Ctor) return code;
  return null;
}

/** The kind a scalar computes in: a number is a float64 (a Python float), a bigint int64, a boolean bool. */
export function scalarKind(value: unknown): Kind | null {
  if (typeof value === 'number') return 'float64';
  if (typeof value === 'bigint') return 'int64';
  if (typeof value === 'boolean') return 'bool';
  return null;
}

export const rank = (kind: Kind): number => KINDS.indexOf(kind);
export const isFloatKind = (kind: Kind): boolean => kind === 'float32' || kind === 'float64';
export const isIntegerKind = (kind: Kind): boolean => kind === 'int32' || kind === 'int64';

/** The kind an operation on these kinds computes in (numexpr's commonKind: the latest in KINDS). */
export function commonKind(kinds: readonly Kind[]): Kind {
  return kinds.reduce((a, b) => (rank(b) > rank(a) ? b : a), 'bool');
}

/** The typed array an elementwise result of each kind is returned in (bool: Uint8Array of 0/1). */
export const RESULT_ARRAY = {
  bool: Uint8Array,
  int32: Int32Array,
  int64: BigInt64Array,
  float32: Float32Array,
  float64: Float64Array,
} as const;

/** The kind of an integer literal or folded integer: int32 when it fits, else int64 (numexpr's int and long). */
export function integerConstantKind(value: number): Kind {
  if (!Number.isInteger(value)) return 'float64';
  if (value >= -(2 ** 31) && value < 2 ** 31) return 'int32';
  return value >= -(2 ** 63) && value < 2 ** 63 ? 'int64' : 'float64';
}

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
