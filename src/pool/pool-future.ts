// The Future a Pool hands back: the generic Future (src/core/future.ts) plus what only a pool task
// has, its memory profile.
import { Future } from '../core/future.js';
import type { TaskMemory } from '../memprof/profile.js';

export class PoolFuture<T> extends Future<T> {
  /**
   * The task's memory profile when the Pool ran it with the `memory` option (set before the Future
   * settles, for a failed task too); null otherwise.
   */
  memory: TaskMemory | null = null;
}
