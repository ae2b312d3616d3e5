// The low-level OpenCL API: platforms, devices, contexts, buffers, programs and kernels, each a thin
// typed wrapper over a native handle. Arguments are checked here, with messages naming the method,
// before anything reaches the driver; the addon checks them again as a backstop.
import { backend, nativeLoadError, requireNative } from '../core/loader.js';
import type {
  NativeAddon,
  OpenclDeviceRecord,
  OpenclHandle,
  OpenclKernelRecord,
  OpenclPlatformRecord,
} from '../core/addon.js';
import { checkOneOf, checkOptions, typeName } from '../core/validate.js';
import {
  arrayScalarType,
  encodeScalar,
  isTypedArray,
  scalarArrays,
  scalarType,
  type ScalarType,
  type TypedArray,
} from './types.js';

// ---- Availability ------------------------------------------------------------------------------

interface Probe {
  available: boolean;
  reason: string | null;
  via: LoadPath['via'];
  libraries: string[];
}
let probed: Probe | undefined;

// Probing loads the OpenCL driver (tens of ms with pocl), so it happens on first use, not at import.
function probe(): Probe {
  if (!probed) {
    probed =
      backend === 'native'
        ? requireNative().openclStatus()
        : {
            available: false,
            reason: `the native addon is not loaded: ${nativeLoadError?.message ?? 'unknown reason'}`,
            via: null,
            libraries: [],
          };
  }
  return probed;
}

/** How OpenCL was reached. */
export interface LoadPath {
  /**
   * 'loader': through the ICD loader libOpenCL.so.1 (or HOTPATH_OPENCL_LIBRARY); 'direct-icd': no loader, so
   * the vendor drivers registered in /etc/OpenCL/vendors/*.icd were opened directly (cl_khr_icd); null: unavailable.
   */
  via: 'loader' | 'direct-icd' | null;
  /** The libraries opened: the loader, or each vendor driver that gave a platform. */
  libraries: string[];
}

/** Which path `available()` took to OpenCL (loader or direct vendor drivers), for diagnostics. */
export function loadPath(): LoadPath {
  const { via, libraries } = probe();
  return { via, libraries: [...libraries] };
}

/** Whether an OpenCL platform with at least the ICD loader is usable in this process. */
export function available(): boolean {
  return probe().available;
}

/** Why `available()` is false (library missing, no platform, no addon), or null when it is true. */
export function unavailableReason(): string | null {
  return probe().reason;
}

function addon(where: string): NativeAddon {
  const status = probe();
  if (!status.available) throw new Error(`${where}: OpenCL is not available: ${status.reason}`);
  return requireNative();
}

// ---- Platforms and devices -----------------------------------------------------------------------

export type DeviceType = 'cpu' | 'gpu' | 'accelerator' | 'custom';
export type DeviceTypeFilter = DeviceType | 'all';
const deviceTypeBits: Record<DeviceType, number> = { cpu: 2, gpu: 4, accelerator: 8, custom: 16 };

export class Device {
  readonly platform: Platform;
  /** Position among every device of every platform in this process. */
  readonly index: number;
  readonly name: string;
  readonly vendor: string;
  readonly version: string;
  readonly driverVersion: string;
  readonly type: DeviceType;
  readonly computeUnits: number;
  readonly clockMHz: number;
  /** Bytes of global memory. */
  readonly globalMemory: number;
  /** Bytes of __local memory per work-group. */
  readonly localMemory: number;
  /** Largest single buffer in bytes (CL_DEVICE_MAX_MEM_ALLOC_SIZE). */
  readonly maxAllocation: number;
  readonly maxWorkGroupSize: number;
  readonly maxWorkItemSizes: readonly number[];
  /** Whether the device computes in double precision (cl_khr_fp64). */
  readonly fp64: boolean;
  /** Whether the device has 64-bit integers (`long`: core in the full profile, cles_khr_int64 in the embedded one). */
  readonly int64: boolean;

  /** @internal */
  constructor(platform: Platform, record: OpenclDeviceRecord) {
    this.platform = platform;
    this.index = record.index;
    this.name = record.name;
    this.vendor = record.vendor;
    this.version = record.version;
    this.driverVersion = record.driverVersion;
    const type = (Object.keys(deviceTypeBits) as DeviceType[]).find((t) => (record.typeMask & deviceTypeBits[t]) !== 0);
    this.type = type ?? 'custom';
    this.computeUnits = record.computeUnits;
    this.clockMHz = record.clockMHz;
    this.globalMemory = record.globalMemory;
    this.localMemory = record.localMemory;
    this.maxAllocation = record.maxAllocation;
    this.maxWorkGroupSize = record.maxWorkGroupSize;
    this.maxWorkItemSizes = Object.freeze([...record.maxWorkItemSizes]);
    this.fp64 = record.fp64;
    this.int64 = record.int64;
  }

  toString(): string {
    return `${this.name} (${this.type}, ${this.platform.name})`;
  }
}

export class Platform {
  readonly name: string;
  readonly vendor: string;
  readonly version: string;
  readonly profile: string;
  readonly #devices: readonly Device[];

  /** @internal */
  constructor(record: OpenclPlatformRecord) {
    this.name = record.name;
    this.vendor = record.vendor;
    this.version = record.version;
    this.profile = record.profile;
    this.#devices = record.devices.map((d) => new Device(this, d));
  }

  /** This platform's devices, optionally of one type. */
  devices(options?: { type?: DeviceTypeFilter }): Device[] {
    const opts = checkOptions('Platform.devices', options);
    const type =
      opts.type === undefined
        ? 'all'
        : checkOneOf('Platform.devices', 'type', opts.type, ['all', 'cpu', 'gpu', 'accelerator', 'custom']);
    return this.#devices.filter((d) => type === 'all' || d.type === type);
  }
}

let platformCache: Platform[] | undefined;

/** Every OpenCL platform (found once per process; root devices do not change while it runs). */
export function platforms(): Platform[] {
  platformCache ??= addon('opencl.platforms')
    .openclPlatforms()
    .map((p) => new Platform(p));
  return [...platformCache];
}

/** Every device of every platform, optionally of one type. */
export function devices(options?: { type?: DeviceTypeFilter }): Device[] {
  return platforms().flatMap((p) => p.devices(options));
}

/**
 * The default device: the one HOTPATH_OPENCL_DEVICE names (an index into devices(), so a test suite can be
 * run against each device in turn), else the GPU with the most compute units, else the first CPU, else any.
 */
export function defaultDevice(): Device {
  const all = devices();
  const chosen = process.env.HOTPATH_OPENCL_DEVICE;
  if (chosen !== undefined && chosen !== '') {
    const index = Number(chosen);
    if (!/^\d+$/.test(chosen.trim()) || index >= all.length) {
      const listing = all.map((d) => `${d.index}: ${d}`).join('; ') || 'none';
      throw new RangeError(
        `opencl: HOTPATH_OPENCL_DEVICE must be a device index from 0 to ${all.length - 1}, ` +
          `got '${chosen}' (devices: ${listing})`,
      );
    }
    return all[index];
  }
  const gpus = all.filter((d) => d.type === 'gpu').sort((a, b) => b.computeUnits - a.computeUnits);
  const device = gpus[0] ?? all.find((d) => d.type === 'cpu') ?? all[0];
  if (!device) throw new Error('opencl: no OpenCL device found on any platform');
  return device;
}

// ---- Handles ---------------------------------------------------------------------------------------

/** Shared lifetime logic: an explicit release() frees the object now; GC frees it otherwise. */
abstract class Resource {
  #handle: OpenclHandle | null;
  protected abstract readonly kind: string;

  protected constructor(handle: OpenclHandle) {
    this.#handle = handle;
  }

  /** True once release() has been called. */
  get released(): boolean {
    return this.#handle === null;
  }

  /** @internal The native handle; throws if released. */
  handle(where: string): OpenclHandle {
    if (this.#handle === null) throw new Error(`${where}: this ${this.kind} has been released`);
    return this.#handle;
  }

  /** Frees the OpenCL object now (commands already enqueued still complete). A second call throws. */
  release(): void {
    const handle = this.handle(`${this.kind}.release`);
    this.#handle = null;
    requireNative().openclRelease(handle);
  }

  [Symbol.dispose](): void {
    if (!this.released) this.release();
  }
}

export type BufferAccess = 'read_write' | 'read_only' | 'write_only';
const accessCodes: Record<BufferAccess, number> = { read_write: 0, read_only: 1, write_only: 2 };

export interface BufferOptions {
  /** How kernels use the buffer. Default 'read_write'. */
  access?: BufferAccess;
  /** Element type for read() without a destination and for `length`. Default: the source array's, else 'uchar'. */
  type?: ScalarType;
}

export interface TransferOptions {
  /** Byte offset into the buffer. Default 0. */
  byteOffset?: number;
}

export class Context extends Resource {
  protected readonly kind = 'Context';
  readonly device: Device;

  /** @internal Use createContext(). */
  constructor(device: Device) {
    super(addon('opencl.createContext').openclCreateContext(device.index));
    this.device = device;
  }

  /** A device buffer: a typed array is copied in; a byte length gives uninitialized memory. */
  buffer(source: TypedArray | number, options?: BufferOptions): Buffer {
    return new Buffer(this, source, options);
  }

  /** Compiles OpenCL C source for this context's device, off the event loop. */
  program(source: string, options?: ProgramOptions): Promise<Program> {
    return Program.build(this, source, options);
  }
}

/** A command queue and context on one device (default: defaultDevice()). */
export function createContext(device?: Device): Context {
  if (device !== undefined && !(device instanceof Device)) {
    throw new TypeError(`opencl.createContext: device must be a Device from opencl.devices(), got ${typeName(device)}`);
  }
  return new Context(device ?? defaultDevice());
}

export class Buffer extends Resource {
  protected readonly kind = 'Buffer';
  readonly context: Context;
  readonly byteLength: number;
  readonly type: ScalarType;
  readonly access: BufferAccess;

  /** @internal Use context.buffer(). */
  constructor(context: Context, source: TypedArray | number, options?: BufferOptions) {
    const where = 'Context.buffer';
    const opts = checkOptions(where, options);
    const access =
      opts.access === undefined
        ? 'read_write'
        : checkOneOf(where, 'access', opts.access, ['read_write', 'read_only', 'write_only']);
    const type =
      opts.type === undefined
        ? undefined
        : checkOneOf(where, 'type', opts.type, Object.keys(scalarArrays) as ScalarType[]);
    const ctxHandle = context.handle(where);
    let byteLength: number;
    let initial: TypedArray | undefined;
    if (typeof source === 'number') {
      if (!Number.isSafeInteger(source) || source < 1)
        throw new RangeError(`${where}: byteLength must be an integer >= 1, got ${source}`);
      byteLength = source;
    } else if (isTypedArray(source)) {
      if (source.byteLength === 0)
        throw new RangeError(`${where}: an OpenCL buffer cannot be empty (source has 0 elements)`);
      if (type !== undefined && type !== arrayScalarType(source)) {
        throw new TypeError(`${where}: type '${type}' does not match the source ${source.constructor.name}`);
      }
      byteLength = source.byteLength;
      initial = source;
    } else {
      throw new TypeError(`${where}: source must be a typed array or a byte length, got ${typeName(source)}`);
    }
    const elementType = type ?? (initial ? arrayScalarType(initial) : 'uchar');
    const elementBytes = scalarArrays[elementType].BYTES_PER_ELEMENT;
    if (byteLength % elementBytes !== 0) {
      throw new RangeError(
        `${where}: byteLength ${byteLength} is not a multiple of ${elementBytes} (the size of ${elementType})`,
      );
    }
    if (byteLength > context.device.maxAllocation) {
      throw new RangeError(
        `${where}: ${byteLength} bytes exceed the device limit ` +
          `CL_DEVICE_MAX_MEM_ALLOC_SIZE = ${context.device.maxAllocation}`,
      );
    }
    super(requireNative().openclCreateBuffer(ctxHandle, accessCodes[access], byteLength, initial));
    this.context = context;
    this.byteLength = byteLength;
    this.type = elementType;
    this.access = access;
  }

  /** Number of `type` elements. */
  get length(): number {
    return this.byteLength / scalarArrays[this.type].BYTES_PER_ELEMENT;
  }

  /** Copies `source` to the device. Do not modify `source` until the promise settles. */
  write(source: TypedArray, options?: TransferOptions): Promise<void> {
    const where = 'Buffer.write';
    const buffer = this.handle(where);
    if (!isTypedArray(source)) throw new TypeError(`${where}: source must be a typed array, got ${typeName(source)}`);
    const byteOffset = this.#checkRange(where, source.byteLength, options);
    return requireNative().openclWriteBuffer(this.context.handle(where), buffer, source, byteOffset);
  }

  /** Copies device memory into `into` (default: a new array of `type` covering the rest of the buffer). */
  read<T extends TypedArray>(into?: T, options?: TransferOptions): Promise<T> {
    const where = 'Buffer.read';
    const buffer = this.handle(where);
    if (into !== undefined && !isTypedArray(into))
      throw new TypeError(`${where}: into must be a typed array, got ${typeName(into)}`);
    const start = options?.byteOffset ?? 0;
    const Ctor = scalarArrays[this.type];
    const target = (into ?? new Ctor(Math.max(0, Math.floor((this.byteLength - start) / Ctor.BYTES_PER_ELEMENT)))) as T;
    const byteOffset = this.#checkRange(where, target.byteLength, options);
    return requireNative().openclReadBuffer(this.context.handle(where), buffer, target, byteOffset);
  }

  #checkRange(where: string, byteCount: number, options: TransferOptions | undefined): number {
    const opts = checkOptions(where, options);
    const byteOffset = opts.byteOffset ?? 0;
    if (typeof byteOffset !== 'number')
      throw new TypeError(`${where}: byteOffset must be a number, got ${typeName(byteOffset)}`);
    if (!Number.isSafeInteger(byteOffset) || byteOffset < 0)
      throw new RangeError(`${where}: byteOffset must be an integer >= 0, got ${byteOffset}`);
    if (byteOffset + byteCount > this.byteLength) {
      throw new RangeError(
        `${where}: ${byteCount} bytes at byteOffset ${byteOffset} exceed the buffer's ${this.byteLength} bytes`,
      );
    }
    return byteOffset;
  }
}

export interface ProgramOptions {
  /** Compiler options, e.g. '-cl-fast-relaxed-math' or ['-D', 'N=4']. */
  options?: string | readonly string[];
}

/** The compiler's diagnostics for a failed build are in `buildLog`. */
export class BuildError extends Error {
  readonly buildLog: string;
  constructor(message: string, buildLog: string) {
    super(message);
    this.name = 'BuildError';
    this.buildLog = buildLog;
  }
}

export class Program extends Resource {
  protected readonly kind = 'Program';
  readonly context: Context;
  readonly source: string;

  private constructor(context: Context, source: string, handle: OpenclHandle) {
    super(handle);
    this.context = context;
    this.source = source;
  }

  /** @internal Use context.program(). */
  static async build(context: Context, source: string, options?: ProgramOptions): Promise<Program> {
    const where = 'Context.program';
    if (typeof source !== 'string') throw new TypeError(`${where}: source must be a string, got ${typeName(source)}`);
    const opts = checkOptions(where, options);
    const flags = opts.options ?? '';
    if (typeof flags !== 'string' && !(Array.isArray(flags) && flags.every((f) => typeof f === 'string'))) {
      throw new TypeError(`${where}: options must be a string or an array of strings, got ${typeName(flags)}`);
    }
    // Argument metadata lets Kernel.run check types and names before enqueueing.
    const compilerFlags = `${Array.isArray(flags) ? flags.join(' ') : flags} -cl-kernel-arg-info`.trim();
    try {
      const handle = await requireNative().openclBuildProgram(context.handle(where), source, compilerFlags);
      return new Program(context, source, handle);
    } catch (error) {
      const log = (error as { buildLog?: unknown }).buildLog;
      if (typeof log === 'string')
        throw new BuildError(`${where}: build failed on ${context.device.name}:\n${log}`, log);
      throw error;
    }
  }

  /** The kernel function `name` (a __kernel in the source). */
  kernel(name: string): Kernel {
    if (typeof name !== 'string') throw new TypeError(`Program.kernel: name must be a string, got ${typeName(name)}`);
    return new Kernel(this, requireNative().openclCreateKernel(this.handle('Program.kernel'), name), name);
  }
}

/** A __local allocation of `bytes` bytes for one kernel argument. */
export interface LocalMemory {
  local: number;
}

export type KernelArgument = Buffer | number | bigint | TypedArray | LocalMemory;

export interface KernelArgInfo {
  name: string;
  /** The OpenCL C type, e.g. 'float*' or 'uint'. */
  type: string;
  addressSpace: 'global' | 'local' | 'constant' | 'private';
}

export interface RunOptions {
  /** Global work size: one number per dimension (1 to 3). */
  global: number | readonly number[];
  /** Work-group size (same dimensions as global, dividing it). Default: chosen by the driver. */
  local?: number | readonly number[];
  /** One value per kernel parameter: Buffer for pointers, number/bigint for scalars, { local: bytes } for __local. */
  args: readonly KernelArgument[];
}

export class Kernel extends Resource {
  protected readonly kind = 'Kernel';
  readonly program: Program;
  readonly name: string;
  /** Parameter metadata, or null when the driver keeps none (then only the count is checked). */
  readonly args: readonly KernelArgInfo[] | null;
  readonly numArgs: number;
  /** Largest work-group this kernel can run with on its device. */
  readonly workGroupSize: number;

  /** @internal Use program.kernel(). */
  constructor(program: Program, record: OpenclKernelRecord, name: string) {
    super(record.handle);
    this.program = program;
    this.name = name;
    this.args = record.args ? Object.freeze(record.args.map((a) => Object.freeze({ ...a }))) : null;
    this.numArgs = record.numArgs;
    this.workGroupSize = record.workGroupSize;
  }

  /** Enqueues the kernel; resolves when the device has finished it (observed from a native thread). */
  run(options: RunOptions): Promise<void> {
    const where = `Kernel.run(${this.name})`;
    const kernel = this.handle(where);
    const opts = checkOptions(where, options) as Partial<RunOptions>;
    const device = this.program.context.device;
    const global = workSizes(where, 'global', opts.global);
    const local = opts.local === undefined ? null : workSizes(where, 'local', opts.local);
    if (local) checkLocalSizes(where, device, this.workGroupSize, global, local);
    const args = this.#encodeArgs(where, opts.args);
    checkLocalMemory(where, device, args);
    const ctx = this.program.context;
    return requireNative().openclRunKernel(ctx.handle(where), kernel, args, global, local);
  }

  #encodeArgs(where: string, args: unknown): Array<OpenclHandle | ArrayBufferView | number> {
    if (!Array.isArray(args)) throw new TypeError(`${where}: args must be an array, got ${typeName(args)}`);
    if (args.length !== this.numArgs) {
      const names = this.args ? ` (${this.args.map((a) => a.name).join(', ')})` : '';
      throw new TypeError(`${where}: the kernel takes ${this.numArgs} arguments${names}, got ${args.length}`);
    }
    return args.map((value: unknown, i) => {
      const info = this.args?.[i];
      const label = info ? `argument ${i} (${info.type} ${info.name})` : `argument ${i}`;
      if (value instanceof Buffer) {
        if (info && info.addressSpace !== 'global' && info.addressSpace !== 'constant') {
          throw new TypeError(`${where}: ${label} is not a pointer to __global or __constant memory, got a Buffer`);
        }
        if (value.context !== this.program.context) throw new Error(`${where}: ${label} belongs to another Context`);
        return value.handle(where);
      }
      if (info && (info.addressSpace === 'global' || info.addressSpace === 'constant')) {
        throw new TypeError(`${where}: ${label} must be a Buffer, got ${typeName(value)}`);
      }
      if (isLocalMemory(value)) {
        if (info && info.addressSpace !== 'local')
          throw new TypeError(`${where}: ${label} is not a __local pointer, got { local }`);
        if (!Number.isSafeInteger(value.local) || value.local < 1)
          throw new RangeError(`${where}: ${label}: local must be a byte count >= 1, got ${value.local}`);
        return value.local;
      }
      if (info?.addressSpace === 'local')
        throw new TypeError(`${where}: ${label} must be { local: bytes }, got ${typeName(value)}`);
      if (isTypedArray(value)) return value; // raw bytes: vectors and structs (the driver checks the size)
      if (typeof value === 'number' || typeof value === 'bigint') {
        const type = info ? scalarType(info.type) : undefined;
        if (!type) {
          const why = info ? `its type ${info.type} is not a scalar` : 'the driver keeps no argument types';
          throw new TypeError(`${where}: ${label}: pass a typed array holding the value's bytes (${why})`);
        }
        return encodeScalar(type, value, `${where}: ${label}`);
      }
      throw new TypeError(
        `${where}: ${label} must be a Buffer, a number, a bigint, a typed array or { local: bytes }, ` +
          `got ${typeName(value)}`,
      );
    });
  }
}

function isLocalMemory(value: unknown): value is LocalMemory {
  return typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && 'local' in value;
}

function workSizes(where: string, name: string, value: unknown): number[] {
  const sizes = typeof value === 'number' ? [value] : value;
  if (!Array.isArray(sizes) || !sizes.every((s) => typeof s === 'number')) {
    throw new TypeError(`${where}: ${name} must be a number or an array of 1 to 3 numbers, got ${typeName(value)}`);
  }
  if (sizes.length < 1 || sizes.length > 3)
    throw new RangeError(`${where}: ${name} must have 1 to 3 dimensions, got ${sizes.length}`);
  for (const s of sizes) {
    if (!Number.isSafeInteger(s) || s < 1)
      throw new RangeError(`${where}: ${name} sizes must be integers >= 1, got ${s}`);
  }
  return sizes;
}

// Drivers abort the process (pocl asserts) on __local allocations above the device's local memory.
function checkLocalMemory(where: string, device: Device, args: ReadonlyArray<unknown>): void {
  let total = 0;
  for (const arg of args) if (typeof arg === 'number') total += arg;
  if (total > device.localMemory) {
    const limit = `the device's local memory (localMemory = ${device.localMemory} bytes)`;
    throw new RangeError(`${where}: __local allocations of ${total} bytes exceed ${limit}`);
  }
}

function checkLocalSizes(where: string, device: Device, kernelLimit: number, global: number[], local: number[]): void {
  if (local.length !== global.length) {
    throw new RangeError(`${where}: local has ${local.length} dimensions but global has ${global.length}`);
  }
  let items = 1;
  local.forEach((size, d) => {
    if (size > device.maxWorkItemSizes[d]) {
      throw new RangeError(
        `${where}: local[${d}] = ${size} exceeds the device limit ` +
          `CL_DEVICE_MAX_WORK_ITEM_SIZES[${d}] = ${device.maxWorkItemSizes[d]}`,
      );
    }
    if (global[d] % size !== 0)
      throw new RangeError(`${where}: global[${d}] = ${global[d]} is not a multiple of local[${d}] = ${size}`);
    items *= size;
  });
  if (items > device.maxWorkGroupSize) {
    throw new RangeError(
      `${where}: a work-group of ${items} items exceeds the device limit ` +
        `CL_DEVICE_MAX_WORK_GROUP_SIZE = ${device.maxWorkGroupSize}`,
    );
  }
  if (items > kernelLimit) {
    throw new RangeError(
      `${where}: a work-group of ${items} items exceeds this kernel's limit CL_KERNEL_WORK_GROUP_SIZE = ${kernelLimit}`,
    );
  }
}
