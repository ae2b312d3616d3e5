export {
  mapAsync,
  ResultStream,
  type Backoff,
  type MapAsyncOptions,
  type MapContext,
  type MapFunction,
} from './map.js';
export {
  Semaphore,
  gather,
  withTimeout,
  type GatherOptions,
  type GatherTask,
  type Release,
  type WithTimeoutOptions,
} from './primitives.js';
