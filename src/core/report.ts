// Errors that have no caller to go to: a user callback that threw (a Future's done-callback, an
// onProgress hook) or an event from a library we drive. Python logs these and goes on; so do we,
// as a process warning the host can observe (process.on('warning')) instead of a crash.

/** The warning `code` of every error reported through reportError. */
export const CALLBACK_ERROR_CODE = 'HOTPATH_CALLBACK_ERROR';

/** Reports `error` (thrown by `what`) as a process warning; never throws. */
export function reportError(what: string, error: unknown): void {
  const detail = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  process.emitWarning(`${what} threw: ${detail}`, { type: 'HotpathWarning', code: CALLBACK_ERROR_CODE });
}

/** Calls `callback(...args)`, reporting instead of throwing what it throws. */
export function callReporting<A extends unknown[]>(what: string, callback: (...args: A) => unknown, ...args: A): void {
  try {
    callback(...args);
  } catch (error) {
    reportError(what, error);
  }
}
