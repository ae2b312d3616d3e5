// One bidirectional, ordered message stream between the two ends of a gateway, execnet's Channel.
// The same class serves both ends: the opener gets one from remoteExec(), the remote export gets
// its twin as the first argument. Loaded by the remote side too: no imports beyond this folder and core/.
import { ChannelClosedError, TimeoutError } from '../core/errors.js';
import { checkKnownOptions } from '../core/options.js';
import { callReporting } from '../core/report.js';
import { checkTimeout, type Deadline, raceTimeout, setDeadline } from '../core/timeout.js';
import { typeName } from '../core/validate.js';
import type { ParentMessage, RemoteMessage } from './protocol.js';

/** What a channel needs from the connection it runs over. */
export interface ChannelPort {
  /** Names the connection in error messages. */
  readonly label: string;
  /** Encodes and writes one message; throws TypeError for an unserializable value. */
  post(message: ParentMessage | RemoteMessage): void;
  /** The channel has ended: forget it. */
  release(id: number): void;
}

export interface ReceiveOptions {
  /** Milliseconds to wait for a value before rejecting with a TimeoutError. Default: wait forever. */
  timeout?: number;
}

interface Waiter {
  resolve(value: unknown): void;
  reject(error: Error): void;
  deadline?: Deadline;
}

export interface SetCallbackOptions {
  /** Given: the callback is called once more with it when the channel closes (execnet's endmarker). */
  endMarker?: unknown;
}

export class Channel<T = unknown> implements AsyncIterable<T> {
  readonly #queue: unknown[] = [];
  readonly #waiters: Waiter[] = [];
  /** Why receive() fails once the queue is drained; null while the channel is open. */
  #endReason: Error | null = null;
  readonly #closeWaiters: Array<(reason: Error) => void> = [];
  #callback: ((value: T) => void) | null = null;
  #endMarker: { value: unknown } | null = null;
  readonly #port: ChannelPort;

  /** @internal Channels are made by Gateway.remoteExec and by the remote side. */
  constructor(
    readonly id: number,
    port: ChannelPort,
  ) {
    this.#port = port;
  }

  /** True once either side closed the channel, the remote code finished, or the gateway went away. */
  get closed(): boolean {
    return this.#endReason !== null;
  }

  /** Sends one value (structured serialization: typed arrays, Maps, Dates, BigInts...). */
  send(value: unknown): void {
    if (this.#endReason) throw new ChannelClosedError(`channel ${this.id} on ${this.#port.label} is closed`);
    this.#port.post({ t: 'data', ch: this.id, value });
  }

  /**
   * The next value from the other side. Rejects with ChannelClosedError once the channel is closed
   * and drained, with RemoteError when the remote code threw, with GatewayError when the gateway
   * died, and with TimeoutError after `timeout` ms.
   */
  receive(options?: ReceiveOptions): Promise<T> {
    if (this.#callback) throw new Error(`channel.receive: channel ${this.id} delivers to its setCallback callback`);
    const timeout = checkTimeout(
      'channel.receive',
      'timeout',
      checkKnownOptions('channel.receive', options, ['timeout']).timeout,
    );
    if (this.#queue.length > 0) return Promise.resolve(this.#queue.shift() as T);
    if (this.#endReason) return Promise.reject(this.#endReason);
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = { resolve: resolve as (value: unknown) => void, reject };
      if (timeout !== undefined) {
        waiter.deadline = setDeadline(() => {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          reject(new TimeoutError(`channel ${this.id} on ${this.#port.label}: no value within ${timeout} ms`));
        }, timeout);
      }
      this.#waiters.push(waiter);
    });
  }

  /**
   * Resolves once the channel is closed (values still queued stay readable); rejects with the
   * RemoteError or GatewayError that ended it, or with a TimeoutError after `timeout` ms (execnet's
   * waitclose).
   */
  waitClose(options?: ReceiveOptions): Promise<void> {
    const timeout = checkTimeout(
      'channel.waitClose',
      'timeout',
      checkKnownOptions('channel.waitClose', options, ['timeout']).timeout,
    );
    const settle = (reason: Error) =>
      reason instanceof ChannelClosedError ? Promise.resolve() : Promise.reject(reason);
    if (this.#endReason) return settle(this.#endReason);
    const closed = new Promise<Error>((resolve) => this.#closeWaiters.push(resolve));
    const message = `channel ${this.id} on ${this.#port.label}: not closed within ${timeout} ms`;
    return raceTimeout(closed, timeout, message).then(settle);
  }

  /**
   * Delivers every value, those already queued first, to `callback` instead of receive(); with
   * `endMarker`, calls `callback(endMarker)` once the channel closes (execnet's setcallback). A
   * callback that throws is reported as a process warning; later values still arrive.
   */
  setCallback(callback: (value: T) => void, options?: SetCallbackOptions): void {
    if (typeof callback !== 'function')
      throw new TypeError(`channel.setCallback: callback must be a function, got ${typeName(callback)}`);
    const opts = checkKnownOptions('channel.setCallback', options, ['endMarker']);
    if (this.#callback) throw new Error(`channel.setCallback: channel ${this.id} already has a callback`);
    this.#callback = callback;
    this.#endMarker = 'endMarker' in opts ? { value: opts.endMarker } : null;
    for (const value of this.#queue.splice(0)) this.#call(value);
    if (this.#endReason) this.#callEndMarker();
  }

  /** Closes both directions; values already received stay readable. Idempotent. */
  close(): void {
    if (this.#endReason) return;
    this.#port.post({ t: 'close', ch: this.id });
    this.end(new ChannelClosedError(`channel ${this.id} on ${this.#port.label} is closed`));
  }

  /** Values until the channel closes; rethrows a remote or gateway error. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      try {
        yield await this.receive();
      } catch (error) {
        if (error instanceof ChannelClosedError) return;
        throw error;
      }
    }
  }

  /** @internal A value arrived from the other side. */
  deliver(value: unknown): void {
    if (this.#endReason) return;
    if (this.#callback) return this.#call(value);
    const waiter = this.#waiters.shift();
    if (!waiter) {
      this.#queue.push(value);
      return;
    }
    waiter.deadline?.clear();
    waiter.resolve(value);
  }

  /** @internal The channel ended for `reason`: pending and later receives fail with it once drained. */
  end(reason: Error): void {
    if (this.#endReason) return;
    this.#endReason = reason;
    this.#port.release(this.id);
    for (const waiter of this.#waiters.splice(0)) {
      waiter.deadline?.clear();
      waiter.reject(reason);
    }
    for (const resolve of this.#closeWaiters.splice(0)) resolve(reason);
    if (this.#callback) this.#callEndMarker();
  }

  #call(value: unknown): void {
    callReporting(`channel ${this.id} callback`, this.#callback as (value: unknown) => void, value);
  }

  #callEndMarker(): void {
    const marker = this.#endMarker;
    this.#endMarker = null;
    if (marker) this.#call(marker.value);
  }
}
