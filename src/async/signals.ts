// Small AbortSignal utilities. Child controllers are linked by hand and unlinked when done:
// long-lived parents (a mapAsync over an infinite source) must not accumulate listeners.
import { setMaxListeners } from 'node:events';
import { TimeoutError } from '../core/errors.js';
import { typeName } from '../core/validate.js';

export interface LinkedController {
  controller: AbortController;
  /** Detaches from the parents; call once the child's work has settled. */
  unlink(): void;
}

/** An AbortController that aborts (with the same reason) when any parent signal aborts. */
export function linkedController(...parents: (AbortSignal | undefined)[]): LinkedController {
  const controller = new AbortController();
  // Each call in flight links one child to this signal: more than 10 is normal, not a leak.
  setMaxListeners(Infinity, controller.signal);
  const links: Array<() => void> = [];
  for (const parent of parents) {
    if (!parent) continue;
    if (parent.aborted) {
      controller.abort(parent.reason);
      break;
    }
    const onAbort = () => controller.abort(parent.reason);
    parent.addEventListener('abort', onAbort, { once: true });
    links.push(() => parent.removeEventListener('abort', onAbort));
  }
  return { controller, unlink: () => links.forEach((unlink) => unlink()) };
}

export function checkSignal(where: string, signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw new TypeError(`${where}: signal must be an AbortSignal, got ${typeName(signal)}`);
  return signal;
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Settles like `promise`, or rejects with a TimeoutError after `ms` (aborting `controller`, so the
 * work behind the promise can stop).
 */
export function raceTimeout<T>(promise: PromiseLike<T>, ms: number | undefined, message: string, controller?: AbortController): Promise<T> {
  if (ms === undefined) return Promise.resolve(promise);
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = new TimeoutError(message);
      controller?.abort(error);
      reject(error);
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
