// The exact surface of the C++ addon (native/addon.cc and each kernel's *_binding.cc).
// Bindings validate their arguments again; these types only document what the TS layer passes.

export interface NativeAddon {
  napiVersion: number;
  /** Moments partial [n, shift, mean, m2, m3, m4, min, max, nanCount] of one float array. */
  momentsPartial(values: Float64Array | Float32Array, nanPolicy: number): Float64Array;
  /** Plain four-lane sum of a Float64Array: the benchmarks' streaming bound. */
  floatSum(values: Float64Array): number;
  momentsPartialAsync(values: Float64Array | Float32Array, nanPolicy: number, threads: number): Promise<Float64Array>;
}
