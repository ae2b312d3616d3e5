export { nativeMemory } from './native.js';
export type { MemoryFigures } from './process-memory.js';
export {
  profileMemory,
  type MemoryProfile,
  type MemorySample,
  type ProfiledError,
  type ProfileMemoryOptions,
  type SamplingOptions,
  type TaskMemory,
} from './profile.js';
export type { AllocationSite } from './sites.js';
