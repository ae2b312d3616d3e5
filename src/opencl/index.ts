// hotpath.opencl: OpenCL dispatch through hotpath's own N-API layer (libOpenCL is opened at run time).
export {
  available,
  unavailableReason,
  loadPath,
  platforms,
  devices,
  defaultDevice,
  createContext,
  Platform,
  Device,
  Context,
  Buffer,
  Program,
  Kernel,
  BuildError,
  type BufferAccess,
  type BufferOptions,
  type DeviceType,
  type DeviceTypeFilter,
  type KernelArgInfo,
  type KernelArgument,
  type LoadPath,
  type LocalMemory,
  type ProgramOptions,
  type RunOptions,
  type TransferOptions,
} from './runtime.js';
export type { ScalarType, TypedArray } from './types.js';
export {
  ElementwiseKernel,
  ReductionKernel,
  type ReductionOptions,
  type SnippetOptions,
  type SnippetParameter,
} from './snippets.js';
export {
  evaluate,
  type OpenclEvaluateOptions,
  type OpenclEvaluateResult,
  type OpenclVariable,
  type Precision,
} from './evaluate.js';
