// Small AbortSignal utilities. Child controllers are linked by hand and unlinked when done:
// long-lived parents (a mapAsync over an infinite source) must not accumulate listeners.
import { setMaxListeners } from 'node:events';
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
  if (!(signal instanceof AbortSignal))
    throw new TypeError(`${where}: signal must be an AbortSignal, got ${typeName(signal)}`);
  return signal;
}
