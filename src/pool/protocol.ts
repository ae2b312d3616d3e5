// Messages between a Pool and its workers (src/pool/worker.ts).
import type { WireError } from '../core/wire-error.js';
import type { ProfileSettings, TaskMemory } from '../memprof/profile.js';

export interface TaskMessage {
  /** Exported function of the task module to call. */
  name: string;
  /** Arguments for one call (absent for a map chunk). */
  args: unknown[];
  /**
   * A map chunk: call the function once per item (spreading each item, an argument list, when
   * `spread`), reply with the results up to the first failure and that failure.
   */
  chunk?: unknown[];
  spread?: boolean;
  /** The worker sets element 0 to 1 when it starts the task: how Future.running sees a start. */
  started: Int32Array;
  /** Profile the call's memory with these (checked) settings; absent for unprofiled tasks and map chunks. */
  memory?: ProfileSettings;
}

/** What a Pool's workers are started with. */
export interface PoolWorkerData {
  taskModule: string;
  /** Export called once per worker, with `initargs`, before its first task. */
  initializer?: string;
  initargs?: unknown[];
  /** Tasks a worker runs before it retires (a fresh worker takes its place). */
  maxTasksPerChild?: number;
}

/** A map chunk's results: every item's up to the first failure, then that failure. */
export interface ChunkResults {
  results: unknown[];
  error?: WireError;
}

/**
 * `memory` comes back when the task message asked for it (the profile of a failed call too).
 * `broken`: the worker's initializer failed, so it can run nothing. `retired`: the worker reached
 * maxTasksPerChild before this task and did not start it (the Pool sends it again). `retire`: this
 * was the worker's last task, the Pool terminates the worker with that threadId.
 */
export type TaskReply =
  | { ok: true; value: unknown; memory?: TaskMemory; retire?: number }
  | { ok: false; error: WireError; memory?: TaskMemory; broken?: true; retire?: number }
  | { ok: false; retired: true };
