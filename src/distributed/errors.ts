// Errors of the distributed layer. Loaded by the remote side too: node builtins only.
import type { WireError } from './protocol.js';

/**
 * The remote code threw (or its module/export could not be loaded) on a gateway or a cluster worker:
 * the remote name, message and stack.
 */
export class RemoteError extends Error {
  override name = 'RemoteError';
  /** The `name` of the error thrown on the remote side (TypeError, Error, ...). */
  readonly remoteName: string;
  /** The remote side's stack trace. */
  readonly remoteStack: string | undefined;
  readonly code: string | undefined;

  constructor(
    /** Where it ran: 'gateway spawn#1', 'queue jobs'. */
    readonly origin: string,
    wire: WireError,
  ) {
    super(`${wire.name}: ${wire.message} (on ${origin})`);
    this.remoteName = wire.name;
    this.remoteStack = wire.stack;
    this.code = wire.code;
    if (wire.stack) this.stack = `${this.stack}\nRemote stack:\n${wire.stack}`;
  }
}

/** A gateway could not start, died, hung, or was closed; names the gateway's target. */
export class GatewayError extends Error {
  override name = 'GatewayError';
  constructor(
    readonly gateway: string,
    message: string,
  ) {
    super(`gateway ${gateway}: ${message}`);
  }
}

/** receive() on a channel that is closed and drained. */
export class ChannelClosedError extends Error {
  override name = 'ChannelClosedError';
}
