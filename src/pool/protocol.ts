// Messages between a Pool and its workers (src/pool/worker.ts).
import type { WireError } from '../core/wire-error.js';
import type { ProfileSettings, TaskMemory } from '../memprof/profile.js';

export interface TaskMessage {
  /** Exported function of the task module to call. */
  name: string;
  /** Arguments for one call (absent for a map chunk). */
  args: unknown[];
  /** A map chunk: call the function once per item, reply with the array of results. */
  chunk?: unknown[];
  /** The worker sets element 0 to 1 when it starts the task: how Future.running sees a start. */
  started: Int32Array;
  /** Profile the call's memory with these (checked) settings; absent for unprofiled tasks and map chunks. */
  memory?: ProfileSettings;
}

/** `memory` comes back when the task message asked for it (the profile of a failed call too). */
export type TaskReply = { ok: true; value: unknown; memory?: TaskMemory } | { ok: false; error: WireError; memory?: TaskMemory };
