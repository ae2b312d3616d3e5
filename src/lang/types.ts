// The element types the expression language reads, shared by every backend (fused JS loop, native
// VM, and code generators such as OpenCL): one code per typed-array class, NumPy's type characters.
// Every integer type converts exactly to float64, the type integer inputs compute in (see the
// promotion table in program.ts). Types with no numexpr counterpart (Float16Array) and 64-bit
// integers (BigInt64Array: not exact in float64) are rejected with a TypeError listing these.

/** d float64, f float32, i int32, h int16, b int8, I uint32, H uint16, B uint8 (and uint8 clamped). */
export type ArrayCode = 'd' | 'f' | 'i' | 'h' | 'b' | 'I' | 'H' | 'B';

export type ElementArray =
  | Float64Array
  | Float32Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint32Array
  | Uint16Array
  | Uint8Array
  | Uint8ClampedArray;

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
];

/** For error messages: what a variable may be. */
export const ACCEPTED_VARIABLES =
  'a Float64Array, Float32Array, Int32Array, Int16Array, Int8Array, Uint32Array, Uint16Array, Uint8Array, ' +
  'Uint8ClampedArray, a number or a boolean';

/** The code of a typed array the expression language reads, or null for any other value. */
export function arrayCode(value: unknown): ArrayCode | null {
  if (!ArrayBuffer.isView(value)) return null;
  for (const [Ctor, code] of ARRAY_CODES) if (value instanceof Ctor) return code;
  return null;
}
