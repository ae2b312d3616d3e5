// The gateway wire format, shared by both ends of a gateway (this file is loaded by the remote side
// too, so it imports node builtins and core/ only). Each frame is a 4-byte big-endian length followed by
// v8.serialize(message): typed arrays, Maps, Dates and BigInts cross intact, and a byte stream
// (a child's stdio, an ssh session) needs no other framing.
import v8 from 'node:v8';
import type { WireError } from '../core/wire-error.js';

/** How the remote side calls the export: `fn(channel, ...args)`, or `fn(...args)` with the result sent back. */
export type ExecMode = 'channel' | 'call';

export type ParentMessage =
  | { t: 'exec'; ch: number; mode: ExecMode; module: string; export: string; args: unknown[] }
  | { t: 'data'; ch: number; value: unknown }
  | { t: 'close'; ch: number }
  | { t: 'forget'; module: string }
  | { t: 'ping' }
  | { t: 'exit' };

export type RemoteMessage =
  | { t: 'hello'; pid: number; hostname: string; node: string }
  | { t: 'data'; ch: number; value: unknown }
  | { t: 'close'; ch: number; error?: WireError }
  | { t: 'pong' };

/** The largest frame body the 4-byte header can describe. */
export const MAX_FRAME_BYTES = 0xffff_ffff;

/**
 * v8.serialize, with a value it cannot serialize (a function, a symbol, an object holding native
 * state) reported as a TypeError naming the caller.
 */
export function serialize(where: string, value: unknown): Buffer {
  try {
    return v8.serialize(value);
  } catch (error) {
    throw new TypeError(`${where}: value cannot be serialized: ${(error as Error).message}`);
  }
}

/** One frame for `message`; an unserializable value is a TypeError here, before a byte is written. */
export function encodeFrame(where: string, message: ParentMessage | RemoteMessage): Buffer {
  const body = serialize(where, message);
  if (body.length > MAX_FRAME_BYTES) throw new RangeError(`${where}: message of ${body.length} bytes exceeds the 4 GiB frame limit`);
  const header = Buffer.allocUnsafe(4);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

/** Reassembles frames from stream chunks of any size; copies only when a frame spans chunks. */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #bodyLength = -1;
  readonly #onMessage: (message: unknown) => void;

  constructor(onMessage: (message: unknown) => void) {
    this.#onMessage = onMessage;
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    for (;;) {
      if (this.#bodyLength < 0) {
        if (this.#buffered < 4) return;
        this.#bodyLength = this.#take(4).readUInt32BE(0);
      }
      if (this.#buffered < this.#bodyLength) return;
      const body = this.#take(this.#bodyLength);
      this.#bodyLength = -1;
      this.#onMessage(v8.deserialize(body));
    }
  }

  #take(n: number): Buffer {
    const all = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks, this.#buffered);
    this.#chunks = all.length > n ? [all.subarray(n)] : [];
    this.#buffered -= n;
    return all.subarray(0, n);
  }
}
