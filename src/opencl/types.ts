// OpenCL C scalar types and the typed arrays that hold them on the host side.

export type TypedArray =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

type TypedArrayConstructor = {
  new (length: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
};

/** Element types a Buffer can be viewed as, named as in OpenCL C. */
export type ScalarType = 'char' | 'uchar' | 'short' | 'ushort' | 'int' | 'uint' | 'long' | 'ulong' | 'float' | 'double';

export const scalarArrays: Record<ScalarType, TypedArrayConstructor> = {
  char: Int8Array,
  uchar: Uint8Array,
  short: Int16Array,
  ushort: Uint16Array,
  int: Int32Array,
  uint: Uint32Array,
  long: BigInt64Array,
  ulong: BigUint64Array,
  float: Float32Array,
  double: Float64Array,
};

// Spellings OpenCL C accepts for the same type (and that drivers report in argument metadata).
const aliases: Record<string, ScalarType> = {
  'unsigned char': 'uchar',
  'signed char': 'char',
  'unsigned short': 'ushort',
  'unsigned int': 'uint',
  unsigned: 'uint',
  'unsigned long': 'ulong',
};

/** The canonical scalar type for an OpenCL C type name, or undefined (vectors, structs, size_t...). */
export function scalarType(name: string): ScalarType | undefined {
  const trimmed = name.trim().replace(/\s+/g, ' ');
  if (trimmed in scalarArrays) return trimmed as ScalarType;
  return aliases[trimmed];
}

/** The scalar type stored by a typed array. */
export function arrayScalarType(array: TypedArray): ScalarType {
  for (const [type, Ctor] of Object.entries(scalarArrays)) {
    if (array instanceof Ctor) return type as ScalarType;
  }
  throw new TypeError(`unsupported typed array ${(array as object).constructor.name}`);
}

export function isTypedArray(value: unknown): value is TypedArray {
  return Object.values(scalarArrays).some((Ctor) => value instanceof Ctor);
}

/** One scalar kernel argument encoded as the bytes clSetKernelArg copies. */
export function encodeScalar(type: ScalarType, value: number | bigint, where: string): TypedArray {
  const Ctor = scalarArrays[type];
  if (type === 'long' || type === 'ulong') {
    if (typeof value === 'number' && !Number.isSafeInteger(value)) {
      throw new RangeError(`${where}: a ${type} must be a safe integer or a bigint, got ${value}`);
    }
    const big = BigInt(value);
    const [min, max] = type === 'long' ? [-(2n ** 63n), 2n ** 63n - 1n] : [0n, 2n ** 64n - 1n];
    if (big < min || big > max) throw new RangeError(`${where}: ${value} is out of range for ${type}`);
    const out = new Ctor(1) as BigInt64Array;
    out[0] = big;
    return out;
  }
  if (typeof value !== 'number') throw new TypeError(`${where}: a ${type} must be a number, got bigint`);
  if (type !== 'float' && type !== 'double') {
    const bits = Ctor.BYTES_PER_ELEMENT * 8;
    const [min, max] = type.startsWith('u') ? [0, 2 ** bits - 1] : [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`${where}: a ${type} must be an integer in [${min}, ${max}], got ${value}`);
    }
  }
  const out = new Ctor(1) as Float64Array;
  out[0] = value;
  return out;
}
