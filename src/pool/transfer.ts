// Marks a task's result for transfer instead of copy, for use inside a task module.
import type { MessagePort } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';

/**
 * Inside a task function: `return transfer(result, [result.buffer])` moves the listed ArrayBuffers
 * (or MessagePorts) to the caller instead of copying them; they are detached in the worker.
 */
export function transfer<T>(value: T, transferList: readonly (ArrayBufferLike | MessagePort)[]): T {
  if (!Array.isArray(transferList))
    throw new TypeError('transfer: transferList must be an array of ArrayBuffers or MessagePorts');
  return move({ [transferableSymbol]: [...transferList], [valueSymbol]: value } as never) as T;
}
