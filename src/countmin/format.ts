// The versioned binary format of a count-min sketch (little-endian throughout):
//
//   offset  size  field
//   0       4     magic "HPCM"
//   4       2     version (1)
//   6       1     counter type: 0 = u32, 1 = u64
//   7       1     flags: bit 0 = conservative update; other bits 0
//   8       4     width
//   12      4     depth
//   16      8     seed
//   24      8     totalCount (u64)
//   32      N     counters, row-major, width * depth cells of 4 (u32) or 8 (u64) bytes
//   32 + N  8     checksum: xxHash64 (seed 0) of bytes [0, 32 + N)
//
// The counters section is the in-memory layout of both backends, so a sketch saved by either
// loads in the other with identical estimates.
import os from 'node:os';
import { typeName } from '../core/validate.js';

export const MAGIC = 0x4d435048; // "HPCM" read as a little-endian uint32
export const VERSION = 1;
export const HEADER_BYTES = 32;
export const CHECKSUM_BYTES = 8;
export const MAX_DEPTH = 64;
/** Counter memory limit per sketch: larger sketches get a RangeError instead of an allocation failure. */
export const MAX_COUNTER_BYTES = 2 ** 31;

/** The counters section is a byte copy of the in-memory Uint32Array: only little-endian hosts write it as specified. */
function requireLittleEndian(where: string): void {
  if (os.endianness() !== 'LE') throw new Error(`${where}: the binary format needs a little-endian host`);
}

export interface SketchHeader {
  wide: boolean;
  conservative: boolean;
  width: number;
  depth: number;
  seed: bigint;
  /** Exact, in [0, 2^64 - 1]. */
  totalCount: bigint;
}

/** Serializes header + counters; `checksum` hashes the bytes before it (the backend's xxh64). */
export function writeSketch(h: SketchHeader, counters: Uint32Array, checksum: (bytes: Uint8Array) => bigint): Buffer {
  requireLittleEndian('CountMinSketch.toBuffer');
  const counterBytes = counters.byteLength;
  const out = Buffer.alloc(HEADER_BYTES + counterBytes + CHECKSUM_BYTES);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt16LE(VERSION, 4);
  out.writeUInt8(h.wide ? 1 : 0, 6);
  out.writeUInt8(h.conservative ? 1 : 0, 7);
  out.writeUInt32LE(h.width, 8);
  out.writeUInt32LE(h.depth, 12);
  out.writeBigUInt64LE(h.seed, 16);
  out.writeBigUInt64LE(h.totalCount, 24);
  out.set(new Uint8Array(counters.buffer, counters.byteOffset, counterBytes), HEADER_BYTES);
  out.writeBigUInt64LE(checksum(out.subarray(0, HEADER_BYTES + counterBytes)), HEADER_BYTES + counterBytes);
  return out;
}

/** Parses and checks a buffer; every defect is an Error naming it, before any counter is read. */
export function readSketch(
  where: string,
  buf: unknown,
  checksum: (bytes: Uint8Array) => bigint,
): { header: SketchHeader; counters: Uint32Array } {
  if (!(buf instanceof Uint8Array))
    throw new TypeError(`${where}: buffer must be a Uint8Array or Buffer, got ${typeName(buf)}`);
  requireLittleEndian(where);
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < HEADER_BYTES + CHECKSUM_BYTES)
    throw new Error(
      `${where}: truncated: ${b.length} bytes is shorter than the ${HEADER_BYTES + CHECKSUM_BYTES}-byte minimum`,
    );
  if (b.readUInt32LE(0) !== MAGIC) throw new Error(`${where}: not a count-min sketch (bad magic)`);
  const version = b.readUInt16LE(4);
  if (version !== VERSION)
    throw new Error(`${where}: unsupported format version ${version} (this build reads version ${VERSION})`);
  const type = b.readUInt8(6);
  if (type > 1) throw new Error(`${where}: unknown counter type ${type}`);
  const flags = b.readUInt8(7);
  if (flags > 1) throw new Error(`${where}: unknown flags 0x${flags.toString(16)}`);
  const width = b.readUInt32LE(8);
  const depth = b.readUInt32LE(12);
  if (width < 1 || depth < 1 || depth > MAX_DEPTH) throw new Error(`${where}: invalid dimensions ${width} x ${depth}`);
  const counterBytes = width * depth * (type === 1 ? 8 : 4);
  const expected = HEADER_BYTES + counterBytes + CHECKSUM_BYTES;
  if (b.length !== expected) {
    const what = b.length < expected ? 'truncated' : 'trailing bytes';
    throw new Error(`${where}: ${what}: ${width} x ${depth} counters need ${expected} bytes, got ${b.length}`);
  }
  const stored = b.readBigUInt64LE(HEADER_BYTES + counterBytes);
  if (checksum(b.subarray(0, HEADER_BYTES + counterBytes)) !== stored)
    throw new Error(`${where}: checksum mismatch (corrupted data)`);
  // Copy into a fresh, 8-byte aligned buffer: the sketch owns its counters.
  const counters = new Uint32Array(counterBytes / 4);
  new Uint8Array(counters.buffer).set(b.subarray(HEADER_BYTES, HEADER_BYTES + counterBytes));
  const header = {
    wide: type === 1,
    conservative: flags === 1,
    width,
    depth,
    seed: b.readBigUInt64LE(16),
    totalCount: b.readBigUInt64LE(24),
  };
  return { header, counters };
}
