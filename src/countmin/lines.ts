// The byte path of the sketch: keys already held as bytes (a file, a socket, a stream chunk) split at a
// separator and hashed where they lie, with no JavaScript string per key. This module holds what both
// CountMinSketch.updateLines and TopK.updateLines need: option checking, the pure-TS twin of the native
// splitter (native/countmin/countmin_kernel.cc ForEachKey), and the carry of a key split across two chunks.
import os from 'node:os';
import { checkKnownOptions } from '../core/options.js';
import { typeName } from '../core/validate.js';
import { xxh64 } from './xxh64.js';
import { updateHashed, type SketchState } from './kernel.js';

/** Where keys end: one byte (a one-character ASCII string or a byte value), or runs of ASCII whitespace. */
export type Separator = string | number | 'whitespace';

export interface UpdateLinesOptions {
  /** Default '\n'. With '\n', a '\r' just before it is not part of the key (CRLF lines, as readline reads them). */
  separator?: Separator;
  /**
   * true: bytes after the last separator are held back and prepended to the next call's bytes, so a key split
   * across two chunks counts once (like TextDecoder's `stream`). Default false: the last key is counted too.
   */
  stream?: boolean;
  /** Threads for a large input (native backend, plain sketch). Default: os.availableParallelism(). */
  threads?: number;
}

/** The separator as the kernels take it: a byte 0..255, or WHITESPACE. */
export const WHITESPACE = 256;

export interface LineFormat {
  separator: number;
  stripCR: boolean;
}

export interface CheckedLineOptions {
  format: LineFormat;
  stream: boolean;
  threads: number;
}

const NEWLINE = 0x0a;
const CR = 0x0d;

export function checkLineOptions(where: string, bytes: unknown, options: unknown): CheckedLineOptions {
  if (!(bytes instanceof Uint8Array))
    throw new TypeError(`${where}: bytes must be a Uint8Array (or Buffer), got ${typeName(bytes)}`);
  const opts = checkKnownOptions(where, options, ['separator', 'stream', 'threads']);
  let separator = NEWLINE;
  const given = opts.separator;
  if (given === 'whitespace') separator = WHITESPACE;
  else if (typeof given === 'string') {
    if (given.length !== 1 || given.charCodeAt(0) > 0x7f) {
      throw new RangeError(
        `${where}: separator must be one ASCII character, a byte value or 'whitespace', got ${JSON.stringify(given)}`,
      );
    }
    separator = given.charCodeAt(0);
  } else if (typeof given === 'number') {
    if (!Number.isInteger(given) || given < 0 || given > 255)
      throw new RangeError(`${where}: separator must be a byte value 0..255, got ${given}`);
    separator = given;
  } else if (given !== undefined) {
    throw new TypeError(`${where}: separator must be a string or a number, got ${typeName(given)}`);
  }
  if (opts.stream !== undefined && typeof opts.stream !== 'boolean')
    throw new TypeError(`${where}: stream must be a boolean, got ${typeName(opts.stream)}`);
  let threads = os.availableParallelism();
  if (opts.threads !== undefined) {
    if (typeof opts.threads !== 'number')
      throw new TypeError(`${where}: threads must be a number, got ${typeName(opts.threads)}`);
    if (!Number.isInteger(opts.threads) || opts.threads < 1 || opts.threads > 1024)
      throw new RangeError(`${where}: threads must be an integer in [1, 1024], got ${opts.threads}`);
    threads = opts.threads;
  }
  return { format: { separator, stripCR: separator === NEWLINE }, stream: opts.stream === true, threads };
}

function isSeparator(byte: number, separator: number): boolean {
  return separator === WHITESPACE ? byte === 0x20 || (byte >= 0x09 && byte <= 0x0d) : byte === separator;
}

/**
 * Calls key(start, end) for every non-empty key of bytes, in order; returns how many. The twin of the C++
 * ForEachKey: the same splitting, CR stripping and skipping of empty keys.
 */
export function forEachKey(bytes: Uint8Array, format: LineFormat, key: (start: number, end: number) => void): number {
  const { separator, stripCR } = format;
  let keys = 0;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    const atEnd = i === bytes.length;
    if (!atEnd && !isSeparator(bytes[i], separator)) continue;
    let end = i;
    if (stripCR && !atEnd && end > start && bytes[end - 1] === CR) end--;
    if (end > start) {
      key(start, end);
      keys++;
    }
    start = i + 1;
  }
  return keys;
}

/** The pure-TS twin of native UpdateLines: hashes each key's bytes in place and adds 1. */
export function updateLinesJs(s: SketchState, bytes: Uint8Array, format: LineFormat): number {
  return forEachKey(bytes, format, (start, end) => {
    xxh64(bytes, start, end, s.seedHi, s.seedLo);
    updateHashed(s, 1);
  });
}

/** A key of a byte stream with its estimate after its last update in the call. */
export interface LineCandidate {
  bytes: Uint8Array;
  estimate: number;
}

/** The pure-TS twin of native UpdateLinesCandidates (same threshold, limit and order). */
export function updateLinesCandidatesJs(
  s: SketchState,
  bytes: Uint8Array,
  format: LineFormat,
  threshold: number,
  limit: number,
): { keys: number; candidates: LineCandidate[] } {
  const seen = new Map<string, { start: number; end: number; estimate: number }>();
  const prune = Math.max(4096, limit * 4);
  const keys = forEachKey(bytes, format, (start, end) => {
    xxh64(bytes, start, end, s.seedHi, s.seedLo);
    const estimate = updateHashed(s, 1);
    if (estimate < threshold || limit === 0) return;
    const id = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
    const known = seen.get(id);
    if (known) known.estimate = Math.max(known.estimate, estimate);
    else seen.set(id, { start, end, estimate });
    if (seen.size <= prune) return;
    const sorted = [...seen.values()].map((e) => e.estimate).sort((a, b) => b - a);
    threshold = Math.max(threshold, sorted[limit - 1]);
    for (const [k, e] of seen) if (e.estimate < threshold) seen.delete(k);
  });
  const candidates = [...seen.values()]
    .sort((a, b) => b.estimate - a.estimate || a.start - b.start)
    .slice(0, limit)
    .map((e) => ({ bytes: bytes.subarray(e.start, e.end), estimate: e.estimate }));
  return { keys, candidates };
}

/**
 * The carry between chunks in stream mode: what followed the last separator of one chunk waits for the
 * next. `next` returns the pieces to count now: a small head (the carried bytes plus the rest of their key)
 * and the chunk's body, counted in place without a copy.
 */
export class LineCarry {
  #pending: Uint8Array | null = null;

  next(chunk: Uint8Array, format: LineFormat, stream: boolean): Uint8Array[] {
    const pieces: Uint8Array[] = [];
    let body = chunk;
    if (this.#pending) {
      const first = indexOfSeparator(chunk, format.separator, 0);
      if (first < 0 && stream) {
        this.#pending = concat(this.#pending, chunk);
        return pieces;
      }
      const headEnd = first < 0 ? chunk.length : first + 1;
      pieces.push(concat(this.#pending, chunk.subarray(0, headEnd)));
      this.#pending = null;
      body = chunk.subarray(headEnd);
    }
    if (stream) {
      const last = lastIndexOfSeparator(body, format.separator);
      if (last + 1 < body.length) this.#pending = body.slice(last + 1);
      body = body.subarray(0, last + 1);
    }
    if (body.length > 0) pieces.push(body);
    return pieces;
  }
}

function indexOfSeparator(bytes: Uint8Array, separator: number, from: number): number {
  if (separator !== WHITESPACE) return bytes.indexOf(separator, from);
  for (let i = from; i < bytes.length; i++) if (isSeparator(bytes[i], separator)) return i;
  return -1;
}

function lastIndexOfSeparator(bytes: Uint8Array, separator: number): number {
  if (separator !== WHITESPACE) return bytes.lastIndexOf(separator);
  for (let i = bytes.length - 1; i >= 0; i--) if (isSeparator(bytes[i], separator)) return i;
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
