export { AbortError, BrokenPoolError, InvalidStateError, TimeoutError } from '../core/errors.js';
export {
  Future,
  type FutureControl,
  type FutureExecutor,
  type FutureState,
  type FutureWaitOptions,
} from '../core/future.js';
export {
  Pool,
  type AtomicsMode,
  type CloseOptions,
  type LatencySummary,
  type MapProgress,
  type PoolMapOptions,
  type PoolOptions,
  type PoolProgress,
  type PoolStats,
  type SubmitOptions,
} from './pool.js';
export { PoolFuture } from './pool-future.js';
export { transfer } from './transfer.js';
export {
  asCompleted,
  wait,
  type AsCompletedOptions,
  type Completion,
  type ReturnWhen,
  type WaitOptions,
  type WaitResult,
} from '../core/wait.js';
