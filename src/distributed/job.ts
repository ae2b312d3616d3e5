// A cluster job as it sits in BullMQ (which stores JSON): the module and export to run, and the
// arguments and result as base64 v8.serialize bytes, so typed arrays, BigInts and Dates survive as
// they do over a gateway. Errors cross as BullMQ's failedReason ("Name: message") and stack.
import v8 from 'node:v8';
import type { WireError } from '../core/wire-error.js';
import { serialize } from './protocol.js';

export interface JobData {
  module: string;
  export: string;
  /** base64 of v8.serialize(args). */
  args: string;
  /** Milliseconds one attempt may run before it fails with a TimeoutError (and is retried). */
  timeout?: number;
}

export function encodeValue(where: string, value: unknown): string {
  return serialize(where, value).toString('base64');
}

export function decodeValue(text: string): unknown {
  return v8.deserialize(Buffer.from(text, 'base64'));
}

/** An Error whose message keeps the original name, since BullMQ stores only message and stack. */
export function toJobError<E extends Error>(error: unknown, Kind: new (message: string) => E): E {
  const original = error instanceof Error ? error : new Error(`non-Error thrown: ${String(error)}`);
  const wrapped = new Kind(`${original.name}: ${original.message}`);
  wrapped.stack = original.stack;
  return wrapped;
}

export function fromJobFailure(failedReason: string, stack: string | undefined): WireError {
  const match = /^(\w*Error): ([\s\S]*)$/.exec(failedReason);
  return match ? { name: match[1], message: match[2], stack } : { name: 'Error', message: failedReason, stack };
}
