// Argument checks shared by every capability. Messages name the function and the argument, the
// way sharp does, so a user sees "describe: ddof must be an integer >= 0, got -1". New checks build
// their errors with invalidType/outOfRange so every message keeps that one shape.

export type FloatArray = Float64Array | Float32Array;

export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'Array';
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}

/** The one shape of an argument error message: "<where>: <name> must be <expected>, got <actual>". */
export function argumentMessage(where: string, name: string, expected: string, actual: string): string {
  return `${where}: ${name} must be ${expected}, got ${actual}`;
}

/** A TypeError for an argument of the wrong type; `actual` names the type of `value`. */
export function invalidType(where: string, name: string, expected: string, value: unknown): TypeError {
  return new TypeError(argumentMessage(where, name, expected, typeName(value)));
}

/** A RangeError for an argument of the right type and a wrong value; `actual` is how to show that value. */
export function outOfRange(where: string, name: string, expected: string, actual: string): RangeError {
  return new RangeError(argumentMessage(where, name, expected, actual));
}

export function checkInteger(
  where: string,
  name: string,
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number') throw invalidType(where, name, 'a number', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw outOfRange(where, name, `an integer ${range}`, String(value));
  }
  return value;
}

export function checkBoolean(where: string, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalidType(where, name, 'a boolean', value);
  return value;
}

export function checkOneOf<T extends string>(where: string, name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string') throw invalidType(where, name, 'a string', value);
  if (!allowed.includes(value as T)) {
    throw outOfRange(where, name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, `'${value}'`);
  }
  return value as T;
}

export function checkOptions(where: string, options: unknown): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidType(where, 'options', 'an object', options);
  }
  return options as Record<string, unknown>;
}

const integerArrays = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array];

// %TypedArray%.prototype's own getters read a view's internal slots, which no subclass or own
// property can override: the lengths the native side reads (byteLength / element size of the real
// buffer). A `length` getter that lies must not make the pure-TS kernels loop past the data.
const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
function intrinsicGetter(name: string): (this: ArrayBufferView) => unknown {
  return Object.getOwnPropertyDescriptor(typedArrayPrototype, name)!.get as (this: ArrayBufferView) => unknown;
}
const lengthSlot = intrinsicGetter('length');
const bufferSlot = intrinsicGetter('buffer');
const byteOffsetSlot = intrinsicGetter('byteOffset');

/** A typed array's real element count, read from its internal slot (never an overridable getter). */
export function trueLength(view: ArrayBufferView): number {
  return lengthSlot.call(view) as number;
}

/**
 * A plain Float64Array/Float32Array view of the same memory as `view`, so that kernels see the real
 * length even when `view` is a subclass or carries an own `length` property. Costs one view object.
 */
function plainView<T extends FloatArray>(view: T): T {
  const Ctor = (view instanceof Float64Array ? Float64Array : Float32Array) as unknown as new (
    buffer: ArrayBufferLike,
    byteOffset: number,
    length: number,
  ) => T;
  return new Ctor(bufferSlot.call(view) as ArrayBufferLike, byteOffsetSlot.call(view) as number, trueLength(view));
}

/**
 * Float64Array and Float32Array are used in place (no copy, through a plain view); other numeric typed arrays
 * and number[] are copied into a Float64Array, checking every element of a plain array.
 */
export function toFloatArray(where: string, name: string, values: unknown): FloatArray {
  if (values instanceof Float64Array || values instanceof Float32Array) return plainView(values);
  const IntegerArray = integerArrays.find((Ctor) => values instanceof Ctor);
  if (IntegerArray) {
    const view = values as ArrayBufferView;
    const buffer = bufferSlot.call(view) as ArrayBuffer;
    const plain = new IntegerArray(buffer, byteOffsetSlot.call(view) as number, trueLength(view));
    return Float64Array.from(plain);
  }
  if (Array.isArray(values)) {
    const out = new Float64Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v !== 'number') {
        throw invalidType(where, `${name}[${i}]`, 'a number', v);
      }
      out[i] = v;
    }
    return out;
  }
  throw invalidType(where, name, 'a Float64Array, Float32Array, integer typed array or number[]', values);
}
