// How a variable's value enters an OpenCL program (opencl.evaluate and its code generator): the input codes
// the device kernels are generated for. The CPU evaluate takes more element types (src/lang/types.ts).

/** How a value enters a program: a float64, float32 or int32 array, or a scalar number. */
export type InputCode = 'd' | 'f' | 'i' | 's';

/** The input code of a number or of a Float64Array, Float32Array or Int32Array; null for anything else. */
export function arrayInputCode(value: unknown): InputCode | null {
  if (typeof value === 'number') return 's';
  if (value instanceof Float64Array) return 'd';
  if (value instanceof Float32Array) return 'f';
  if (value instanceof Int32Array) return 'i';
  return null;
}
