// Error classes shared by the pool, futures and async helpers. Callers tell them apart by `name`
// (as with DOM's AbortError/TimeoutError), so they also survive a trip through structured clone.

/** A task or operation was cancelled: Future.cancel(), an AbortSignal, a per-task timeout or pool.close(). */
export class AbortError extends Error {
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
  }
  override get name(): string {
    return 'AbortError';
  }
}

/** A deadline passed before the awaited work settled (withTimeout, mapAsync's timeout, asCompleted, wait). */
export class TimeoutError extends Error {
  constructor(message = 'The operation timed out', options?: { cause?: unknown }) {
    super(message, options);
  }
  override get name(): string {
    return 'TimeoutError';
  }
}

/** A Future's result was read before it settled (concurrent.futures' InvalidStateError). */
export class InvalidStateError extends Error {
  override get name(): string {
    return 'InvalidStateError';
  }
}

/** The AbortError an aborted signal stands for: its reason when that is already one, else wrapping it. */
export function abortErrorFrom(signal: AbortSignal, message: string): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof AbortError || reason instanceof TimeoutError) return reason;
  return new AbortError(message, { cause: reason });
}
