// The exact surface of the C++ addon (native/addon.cc and each kernel's *_binding.cc).
// Bindings validate their arguments again; these types only document what the TS layer passes.

export interface NativeAddon {
  napiVersion: number;
  /** Moments partial [n, shift, mean, m2, m3, m4, min, max, nanCount] of one float array. */
  momentsPartial(values: Float64Array | Float32Array, nanPolicy: number): Float64Array;
  /** Plain four-lane sum of a Float64Array: the benchmarks' streaming bound. */
  floatSum(values: Float64Array): number;
  momentsPartialAsync(values: Float64Array | Float32Array, nanPolicy: number, threads: number): Promise<Float64Array>;
  /**
   * Runs expression bytecode (src/expr/bytecode.ts); returns each output's reduction accumulator as raw 64 bits
   * (a double, or an int64 for int64 operands; NaN for elementwise outputs).
   */
  exprEvaluate(...args: ExprEvaluateArgs): Float64Array;
  exprEvaluateAsync(...args: ExprEvaluateArgs): Promise<Float64Array>;
  /** Runs expression bytecode over strided, broadcast n-d views (native/expr/ndarray_kernel.h); as exprEvaluate. */
  exprEvaluateNd(...args: ExprEvaluateNdArgs): Float64Array;
  exprEvaluateNdAsync(...args: ExprEvaluateNdArgs): Promise<Float64Array>;
  /** The VM's opcode names in opcode order (must equal OPS in src/lang/ops.ts). */
  exprOpNames(): string[];
  /**
   * Count-min: adds counts[i] (null: 1) to each key; keys is bytes with byte offsets or one string with UTF-16
   * offsets.
   */
  countminUpdate(
    counters: Uint32Array,
    shape: Uint32Array,
    keys: string | Uint8Array,
    offsets: Uint32Array,
    counts: Float64Array | null,
    estimatesOut: Float64Array | null,
  ): void;
  /**
   * Count-min, an updateMany of many batches: opens a pipeline (a handle, freed when collected if never closed) in
   * which a pool thread hashes each batch pushed while the next is packed. A push adds the batch pushed before to the
   * counters (its estimates into inFlightEstimates when the pipeline was opened with estimates); close adds the
   * last, or drops it (null).
   */
  countminPipelineOpen(estimates: boolean): CountminPipeline;
  countminPipelinePush(
    pipeline: CountminPipeline,
    counters: Uint32Array,
    shape: Uint32Array,
    keys: string | Uint8Array,
    offsets: Uint32Array,
    counts: Float64Array | null,
    inFlightEstimates: Float64Array | null,
  ): void;
  countminPipelineClose(
    pipeline: CountminPipeline,
    counters: Uint32Array | null,
    shape: Uint32Array | null,
    inFlightEstimates: Float64Array | null,
  ): void;
  /** Count-min: each key's estimate (minimum over rows) into estimatesOut. */
  countminEstimate(
    counters: Uint32Array,
    shape: Uint32Array,
    keys: string | Uint8Array,
    offsets: Uint32Array,
    estimatesOut: Float64Array,
  ): void;
  /** Count-min: adds count to one key (a string, hashed as UTF-8, or bytes); returns its new estimate. */
  countminUpdateOne(counters: Uint32Array, shape: Uint32Array, key: string | Uint8Array, count: number): number;
  /** Count-min: one key's estimate. */
  countminEstimateOne(counters: Uint32Array, shape: Uint32Array, key: string | Uint8Array): number;
  /** Count-min: dst += weight * src, saturating (u64 counters as uint32 pairs when wide). */
  countminMerge(dst: Uint32Array, src: Uint32Array, wide: boolean, weight: number): void;
  /** xxHash64 of bytes with the seed's 32-bit halves. */
  countminHash(bytes: Uint8Array, seedLo: number, seedHi: number): bigint;
  /** Adds 1 to every key of bytes (split at separator: a byte, or 256 for ASCII whitespace); returns the key count. */
  countminUpdateLines(
    counters: Uint32Array,
    shape: Uint32Array,
    bytes: Uint8Array,
    separator: number,
    stripCR: boolean,
    threads: number,
  ): number;
  /** Sequential updateLines that also returns [keys, offset, length, estimate, ...] for candidates >= threshold. */
  countminUpdateLinesCandidates(
    counters: Uint32Array,
    shape: Uint32Array,
    bytes: Uint8Array,
    separator: number,
    stripCR: boolean,
    threshold: number,
    limit: number,
  ): Float64Array;
  /** Bytes held by the addon's tracked allocations (native/common/memory.h), process-wide. */
  nativeMemory(): number;
  /** High-water mark of nativeMemory() since the previous call; resets it to the live total. */
  takeNativePeak(): number;
  /** A zero-filled Float64Array in tracked native memory: checks the accounting end to end (tests, demo). */
  trackedFloat64Array(length: number): Float64Array;

  // OpenCL (native/opencl): handles are opaque Externals released by openclRelease or by GC.
  openclStatus(): {
    available: boolean;
    reason: string | null;
    via: 'loader' | 'direct-icd' | null;
    libraries: string[];
  };
  openclPlatforms(): OpenclPlatformRecord[];
  openclCreateContext(deviceIndex: number): OpenclHandle;
  /** access: 0 read-write, 1 read-only, 2 write-only; `initial` (exactly byteLength bytes) is copied. */
  openclCreateBuffer(
    context: OpenclHandle,
    access: number,
    byteLength: number,
    initial?: ArrayBufferView,
  ): OpenclHandle;
  openclWriteBuffer(
    context: OpenclHandle,
    buffer: OpenclHandle,
    source: ArrayBufferView,
    byteOffset: number,
  ): Promise<void>;
  openclReadBuffer<T extends ArrayBufferView>(
    context: OpenclHandle,
    buffer: OpenclHandle,
    into: T,
    byteOffset: number,
  ): Promise<T>;
  /** Rejects with an Error carrying `buildLog` when the build fails. */
  openclBuildProgram(context: OpenclHandle, source: string, options: string): Promise<OpenclHandle>;
  openclCreateKernel(program: OpenclHandle, name: string): OpenclKernelRecord;
  /** args: a Buffer handle, a typed array holding one scalar's bytes, or a __local allocation's byte size. */
  openclRunKernel(
    context: OpenclHandle,
    kernel: OpenclHandle,
    args: Array<OpenclHandle | ArrayBufferView | number>,
    global: number[],
    local: number[] | null,
  ): Promise<void>;
  openclRelease(handle: OpenclHandle): void;
}

/** An OpenCL object owned by the addon (a napi External). */
export type OpenclHandle = { readonly __openclHandle: unique symbol };

/** A count-min pipeline (an External the addon type-tags; opaque to JavaScript). */
export type CountminPipeline = { readonly __countminPipeline: unique symbol };

export interface OpenclDeviceRecord {
  index: number;
  name: string;
  vendor: string;
  version: string;
  driverVersion: string;
  typeMask: number;
  computeUnits: number;
  clockMHz: number;
  globalMemory: number;
  localMemory: number;
  maxAllocation: number;
  maxWorkGroupSize: number;
  maxWorkItemSizes: number[];
  fp64: boolean;
  /** 64-bit integers: the full profile, or an embedded one with cles_khr_int64. */
  int64: boolean;
}

export interface OpenclPlatformRecord {
  name: string;
  vendor: string;
  version: string;
  profile: string;
  devices: OpenclDeviceRecord[];
}

export interface OpenclKernelRecord {
  handle: OpenclHandle;
  numArgs: number;
  workGroupSize: number;
  /** null when the driver keeps no argument metadata. */
  args: Array<{ name: string; type: string; addressSpace: 'global' | 'local' | 'constant' | 'private' }> | null;
}

export type ExprEvaluateNdArgs = [
  code: Int32Array,
  constants: Float64Array,
  /** Typed arrays (each read through its strides and offset), numbers or bigints (as exprEvaluate's). */
  inputs: readonly (ArrayBufferView | number | bigint)[],
  /** Per input: elements between neighbours along each result dimension (0 where broadcast); null for numbers. */
  strides: (readonly number[] | null)[],
  offsets: number[],
  /** The result shape (at least one dimension). */
  shape: readonly number[],
  /** Per output: its C-order result (the typed array of its kind), or null (a full or an axis reduction). */
  outputs: readonly (ArrayBufferView | null)[],
  /** Per output: [reduction, axis], reduction 0 (none), 1 sum, 2 prod, 3 min, 4 max, 5 mean. */
  axes: Int32Array,
  /** Per output: the Float64Array of the shape without its axis (axis reductions), else null. */
  reduced: (Float64Array | null)[],
  threads: number,
  blockSize: number,
];

export type ExprEvaluateArgs = [
  code: Int32Array,
  constants: Float64Array,
  /** Typed arrays of the types each input register's kind reads, numbers (float64, bool) or bigints (int64). */
  inputs: readonly (ArrayBufferView | number | bigint)[],
  /** Per output: the typed array of its kind, or null for a reduction. */
  outputs: readonly (ArrayBufferView | null)[],
  length: number,
  threads: number,
  blockSize: number,
];
