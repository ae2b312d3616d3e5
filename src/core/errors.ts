// hotpath's own error classes, shared by every capability (async, pool, distributed). Callers tell
// them apart by `name` (as with DOM's AbortError/TimeoutError), which survives structured clone,
// or by `code`, a machine-readable 'HOTPATH_*' string. Both are set the same way in every class:
// prototype getters, so an instance carries no extra own properties. Node builtins only: the
// remote side of a gateway loads this file too.
import type { WireError } from './wire-error.js';

/** A task or operation was cancelled: Future.cancel(), an AbortSignal, a per-task timeout or pool.close(). */
export class AbortError extends Error {
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
  }
  override get name(): string {
    return 'AbortError';
  }
  get code(): string {
    return 'HOTPATH_ABORTED';
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
  get code(): string {
    return 'HOTPATH_TIMEOUT';
  }
}

/** A Future's result was read before it settled (concurrent.futures' InvalidStateError). */
export class InvalidStateError extends Error {
  override get name(): string {
    return 'InvalidStateError';
  }
  get code(): string {
    return 'HOTPATH_INVALID_STATE';
  }
}

/**
 * concurrent.futures' BrokenProcessPool: a Pool can run nothing more because a worker's initializer
 * failed (pending tasks and later submits reject with it), or a task's worker died under it.
 */
export class BrokenPoolError extends Error {
  override get name(): string {
    return 'BrokenPoolError';
  }
  get code(): string {
    return 'HOTPATH_BROKEN_POOL';
  }
}

/** The AbortError an aborted signal stands for: its reason when that is already one, else wrapping it. */
export function abortErrorFrom(signal: AbortSignal, message: string): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof AbortError || reason instanceof TimeoutError) return reason;
  return new AbortError(message, { cause: reason });
}

/**
 * The remote code threw (or its module/export could not be loaded) on a gateway or a cluster worker:
 * the remote name, message and stack. Its `code` is the remote error's own code (ENOENT, ...), or
 * 'HOTPATH_REMOTE' when that had none.
 */
export class RemoteError extends Error {
  /** The `name` of the error thrown on the remote side (TypeError, Error, ...). */
  readonly remoteName: string;
  /** The remote side's stack trace. */
  readonly remoteStack: string | undefined;
  readonly #remoteCode: string | undefined;

  constructor(
    /** Where it ran: 'gateway spawn#1', 'queue jobs'. */
    readonly origin: string,
    wire: WireError,
  ) {
    super(`${wire.name}: ${wire.message} (on ${origin})`);
    this.remoteName = wire.name;
    this.remoteStack = wire.stack;
    this.#remoteCode = wire.code;
    if (wire.stack) this.stack = `${this.stack}\nRemote stack:\n${wire.stack}`;
  }
  override get name(): string {
    return 'RemoteError';
  }
  get code(): string {
    return this.#remoteCode ?? 'HOTPATH_REMOTE';
  }
}

/**
 * A ClusterExecutor job no longer exists in Redis (Redis restarted without persistence, or failed over to a
 * replica that never had it) while its result was still awaited: it may or may not have run.
 */
export class LostJobError extends Error {
  constructor(
    readonly queue: string,
    readonly jobId: string,
    message: string,
  ) {
    super(`queue ${queue}: job ${jobId} ${message}`);
  }
  override get name(): string {
    return 'LostJobError';
  }
  get code(): string {
    return 'HOTPATH_JOB_LOST';
  }
}

/** A gateway could not start, died, hung, or was closed; names the gateway's target. */
export class GatewayError extends Error {
  constructor(
    readonly gateway: string,
    message: string,
  ) {
    super(`gateway ${gateway}: ${message}`);
  }
  override get name(): string {
    return 'GatewayError';
  }
  get code(): string {
    return 'HOTPATH_GATEWAY';
  }
}

/** receive() on a channel that is closed and drained. */
export class ChannelClosedError extends Error {
  override get name(): string {
    return 'ChannelClosedError';
  }
  get code(): string {
    return 'HOTPATH_CHANNEL_CLOSED';
  }
}
