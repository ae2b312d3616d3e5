// Heavy hitters: a conservative-update count-min sketch plus a bounded min-heap of the k keys
// with the largest estimates seen so far (the "sketch + heap" scheme of Charikar et al. and
// Cormode–Muthukrishnan; RedisBloom's TOPK keeps the same shape with HeavyKeeper counters).
// Every update reports the key's new estimate; only a key whose estimate beats the heap's minimum
// (or that is already a candidate) touches the heap, so a skewed stream costs one comparison per
// update on the hot path, and the native backend updates whole batches in one call.
import { type Backend, resolveBackend } from '../core/loader.js';
import { checkInteger, checkOptions, typeName } from '../core/validate.js';
import { encodeKey, keyBytes, keyEnd, keyStart, type Key } from './hash.js';
import { checkLineOptions, LineCarry, type UpdateLinesOptions } from './lines.js';
import { CountMinSketch, hashBytes, sketchInternals, type CounterType } from './sketch.js';

export interface TopKOptions {
  /** Sketch dimensions: give width and depth, or epsilon and delta (default epsilon 0.001, delta 0.01). */
  width?: number;
  depth?: number;
  epsilon?: number;
  delta?: number;
  seed?: number | bigint;
  counter?: CounterType;
  backend?: Backend;
}

export interface TopKEntry {
  key: Key;
  /** The sketch's estimate: an upper bound on the key's count. */
  estimate: number;
  /** max(0, estimate - epsilon·N): the count is at least this with probability >= 1 - delta. */
  lowerBound: number;
  upperBound: number;
}

/** A TopK and an integer weight for merge(). */
export interface WeightedTopK {
  topK: TopK;
  weight: number;
}

interface Candidate {
  key: Key;
  id: string;
  estimate: number;
  /** Index in the heap array. */
  pos: number;
}

const MAX_K = 1 << 20;

/** ES2024 string methods (Node >= 20 has them; the ES2023 lib typings do not). */
interface WellFormedString {
  isWellFormed(): boolean;
  toWellFormed(): string;
}
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The identity of a key, matching the sketch's (keys with equal bytes are one key): a string's
 * well-formed form; bytes that are valid UTF-8 as that text; other bytes as a string that starts
 * with a lone surrogate, which no well-formed key contains.
 */
function candidateId(where: string, key: unknown): string {
  if (typeof key === 'string') {
    const s = key as string & WellFormedString;
    return s.isWellFormed() ? key : s.toWellFormed();
  }
  encodeKey(where, key);
  const bytes = keyBytes.subarray(keyStart, keyEnd);
  try {
    return utf8.decode(bytes);
  } catch {
    return '\uD800' + Buffer.from(bytes).toString('latin1');
  }
}

/**
 * A key read from a byte stream: its text when the bytes are UTF-8 (as update() of that string), else a copy of
 * the bytes.
 */
function bytesKey(bytes: Uint8Array): Key {
  try {
    return utf8.decode(bytes);
  } catch {
    return Uint8Array.from(bytes);
  }
}

/** A key safe to keep: byte keys are copied so later changes to the caller's buffer do not alter it. */
function ownedKey(key: Key): Key {
  return key instanceof Uint8Array ? Uint8Array.from(key) : key;
}

/** Streaming top-k heavy hitters over a conservative-update count-min sketch. Mergeable. */
export class TopK {
  readonly k: number;
  /** The underlying sketch (conservative update): estimates for any key, not just candidates. */
  readonly sketch: CountMinSketch;
  #heap: Candidate[] = [];
  #byId = new Map<string, Candidate>();
  #estimates = new Float64Array(0);
  #lines = new LineCarry();

  constructor(k: number, options?: TopKOptions) {
    const where = 'TopK';
    this.k = checkInteger(where, 'k', k, 1, MAX_K);
    const opts = checkOptions(where, options);
    const sketchOptions = {
      seed: opts.seed as number | bigint | undefined,
      counter: opts.counter as CounterType | undefined,
      backend: opts.backend as Backend | undefined,
      conservative: true,
    };
    if (opts.width !== undefined || opts.depth !== undefined) {
      if (opts.epsilon !== undefined || opts.delta !== undefined)
        throw new TypeError(`${where}: give width and depth, or epsilon and delta, not both`);
      this.sketch = CountMinSketch.withDimensions(opts.width as number, opts.depth as number, sketchOptions);
    } else {
      this.sketch = CountMinSketch.withErrorRate(
        (opts.epsilon as number | undefined) ?? 0.001,
        (opts.delta as number | undefined) ?? 0.01,
        sketchOptions,
      );
    }
  }

  /** Number of candidates held (at most k). */
  get size(): number {
    return this.#heap.length;
  }

  /** Adds count (a safe integer >= 0) to key. Returns this. */
  update(key: Key, count = 1): this {
    const where = 'TopK.update';
    this.#offer(where, key, sketchInternals.update(this.sketch, where, key, count));
    return this;
  }

  /** Adds counts[i] (default 1) to keys[i]: one native sketch call per batch, then the heap pass. Returns this. */
  updateMany(keys: readonly Key[], counts?: ArrayLike<number>): this {
    const where = 'TopK.updateMany';
    const n = Array.isArray(keys) ? keys.length : 0;
    if (this.#estimates.length < n) this.#estimates = new Float64Array(n);
    const estimates = this.#estimates.subarray(0, n);
    sketchInternals.updateMany(this.sketch, where, keys, counts, estimates);
    const heap = this.#heap;
    for (let i = 0; i < n; i++) {
      // A key below a full heap's minimum can be neither a candidate nor a new one (estimates only grow).
      if (heap.length === this.k && estimates[i] <= heap[0].estimate) continue;
      this.#offer(where, keys[i], estimates[i]);
    }
    return this;
  }

  /**
   * CountMinSketch.updateLines for heavy hitters: every key of the bytes is counted in order (the sketch is
   * conservative), and only the distinct keys whose estimate reaches the heap's minimum become strings and
   * meet the heap — for each piece of the stream, the k with the largest estimates. Returns this.
   */
  updateLines(bytes: Uint8Array, options?: UpdateLinesOptions): this {
    const where = 'TopK.updateLines';
    const { format, stream } = checkLineOptions(where, bytes, options);
    for (const piece of this.#lines.next(bytes, format, stream)) {
      const threshold = this.#heap.length === this.k ? this.#heap[0].estimate : 0;
      for (const { bytes: key, estimate } of sketchInternals.updateLinesCandidates(
        this.sketch,
        piece,
        format,
        threshold,
        this.k,
      )) {
        this.#offer(where, bytesKey(key), estimate);
      }
    }
    return this;
  }

  /** The sketch's estimate for any key. */
  estimate(key: Key): number {
    return this.sketch.estimate(key);
  }

  /**
   * The candidates with current estimates and bounds, largest first (ties by key identity, so the order is
   * deterministic).
   */
  list(): TopKEntry[] {
    const bound = this.sketch.errorBound;
    return this.#ranked().map(({ key, estimate }) => ({
      key,
      estimate,
      lowerBound: Math.max(0, estimate - bound),
      upperBound: estimate,
    }));
  }

  /** Candidates re-estimated on the sketch now, by estimate descending, then id. */
  #ranked(): Candidate[] {
    const estimates = this.sketch.estimateMany(this.#heap.map((c) => c.key));
    return this.#heap
      .map((c, i) => ({ ...c, estimate: estimates[i] }))
      .sort((a, b) => b.estimate - a.estimate || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * Merges other TopKs (same sketch width, depth, seed and counter type), each times an optional
   * integer weight: the sketches add up, and the k largest of all candidates, re-estimated on the
   * merged sketch, remain. Returns this.
   */
  merge(...others: Array<TopK | WeightedTopK>): this {
    const where = 'TopK.merge';
    const parts = others.map((o, i) => {
      const { topK, weight } = o instanceof TopK ? { topK: o, weight: 1 } : ((o as WeightedTopK) ?? {});
      if (!(topK instanceof TopK))
        throw new TypeError(`${where}: argument ${i} must be a TopK or { topK, weight }, got ${typeName(o)}`);
      return { sketch: topK.sketch, weight, candidates: topK.#heap };
    });
    this.sketch.merge(...parts.map(({ sketch, weight }) => ({ sketch, weight })));
    const pool = new Map<string, Key>();
    for (const c of [...this.#heap, ...parts.flatMap((p) => p.candidates)]) if (!pool.has(c.id)) pool.set(c.id, c.key);
    this.#rebuild(pool);
    return this;
  }

  /**
   * Binary form (little-endian): "HPTK", u16 version 1, u16 0, u32 k, u32 candidate count, then per
   * candidate u8 key type (0 string, 1 bytes, 2 number, 3 bigint), u32 length and the key's bytes;
   * then the sketch's toBuffer(); then xxHash64 (seed 0) of everything before it.
   */
  toBuffer(): Buffer {
    const parts: Buffer[] = [];
    const head = Buffer.alloc(16);
    head.writeUInt32LE(TOPK_MAGIC, 0);
    head.writeUInt16LE(TOPK_VERSION, 4);
    head.writeUInt32LE(this.k, 8);
    head.writeUInt32LE(this.#heap.length, 12);
    parts.push(head);
    for (const c of this.#ranked()) parts.push(encodeCandidate(c.key));
    parts.push(this.sketch.toBuffer());
    const body = Buffer.concat(parts);
    const checksum = Buffer.alloc(8);
    checksum.writeBigUInt64LE(hashBytes(this.sketch.backend, body, 0, 0));
    return Buffer.concat([body, checksum]);
  }

  /** Loads toBuffer() output; any defect is an Error naming it. */
  static fromBuffer(buffer: Uint8Array, options?: { backend?: Backend }): TopK {
    const where = 'TopK.fromBuffer';
    const opts = checkOptions(where, options);
    if (!(buffer instanceof Uint8Array))
      throw new TypeError(`${where}: buffer must be a Uint8Array or Buffer, got ${typeName(buffer)}`);
    const b = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    if (b.length < 24) throw new Error(`${where}: truncated: ${b.length} bytes`);
    if (b.readUInt32LE(0) !== TOPK_MAGIC) throw new Error(`${where}: not a TopK (bad magic)`);
    if (b.readUInt16LE(4) !== TOPK_VERSION)
      throw new Error(`${where}: unsupported format version ${b.readUInt16LE(4)}`);
    const body = b.subarray(0, b.length - 8);
    const chosen = resolveBackend(opts.backend, where);
    if (hashBytes(chosen, body, 0, 0) !== b.readBigUInt64LE(b.length - 8))
      throw new Error(`${where}: checksum mismatch (corrupted data)`);
    const k = b.readUInt32LE(8);
    const count = b.readUInt32LE(12);
    if (k < 1 || k > MAX_K || count > k) throw new Error(`${where}: invalid k ${k} with ${count} candidates`);
    const keys: Key[] = [];
    let at = 16;
    for (let i = 0; i < count; i++) {
      if (at + 5 > body.length) throw new Error(`${where}: truncated candidate ${i}`);
      const type = body.readUInt8(at);
      const length = body.readUInt32LE(at + 1);
      at += 5;
      if (at + length > body.length) throw new Error(`${where}: truncated candidate ${i}`);
      keys.push(decodeCandidate(where, type, body.subarray(at, at + length)));
      at += length;
    }
    const sketch = CountMinSketch.fromBuffer(body.subarray(at), { backend: chosen });
    if (!sketch.conservative) throw new Error(`${where}: the embedded sketch must use conservative update`);
    const topK = new TopK(k, {
      width: sketch.width,
      depth: sketch.depth,
      seed: sketch.seed,
      counter: sketch.counter,
      backend: sketch.backend,
    });
    topK.sketch.merge(sketch);
    topK.#rebuild(new Map(keys.map((key) => [candidateId(where, key), key])));
    return topK;
  }

  /** Keeps the k candidates of `pool` with the largest current estimates. */
  #rebuild(pool: Map<string, Key>): void {
    const ids = [...pool.keys()];
    const estimates = this.sketch.estimateMany([...pool.values()]);
    const order = ids
      .map((_, i) => i)
      .sort((a, b) => estimates[b] - estimates[a])
      .slice(0, this.k);
    this.#heap = [];
    this.#byId.clear();
    for (const i of order) this.#push({ key: pool.get(ids[i])!, id: ids[i], estimate: estimates[i], pos: 0 });
  }

  #offer(where: string, key: Key, estimate: number): void {
    const id = candidateId(where, key);
    const known = this.#byId.get(id);
    if (known) {
      known.estimate = estimate;
      this.#siftDown(known.pos);
    } else if (this.#heap.length < this.k) {
      this.#push({ key: ownedKey(key), id, estimate, pos: 0 });
    } else if (estimate > this.#heap[0].estimate) {
      const root = this.#heap[0];
      this.#byId.delete(root.id);
      const entry = { key: ownedKey(key), id, estimate, pos: 0 };
      this.#heap[0] = entry;
      this.#byId.set(id, entry);
      this.#siftDown(0);
    }
  }

  #push(entry: Candidate): void {
    entry.pos = this.#heap.length;
    this.#heap.push(entry);
    this.#byId.set(entry.id, entry);
    this.#siftUp(entry.pos);
  }

  #swap(i: number, j: number): void {
    const h = this.#heap;
    [h[i], h[j]] = [h[j], h[i]];
    h[i].pos = i;
    h[j].pos = j;
  }

  #siftUp(i: number): void {
    const h = this.#heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent].estimate <= h[i].estimate) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #siftDown(i: number): void {
    const h = this.#heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let least = i;
      if (l < h.length && h[l].estimate < h[least].estimate) least = l;
      if (r < h.length && h[r].estimate < h[least].estimate) least = r;
      if (least === i) return;
      this.#swap(i, least);
      i = least;
    }
  }
}

const TOPK_MAGIC = 0x4b545048; // "HPTK" read as a little-endian uint32
const TOPK_VERSION = 1;
const enum KeyType {
  String = 0,
  Bytes = 1,
  Number = 2,
  BigInt = 3,
}

function encodeCandidate(key: Key): Buffer {
  const type =
    typeof key === 'string'
      ? KeyType.String
      : key instanceof Uint8Array
        ? KeyType.Bytes
        : typeof key === 'number'
          ? KeyType.Number
          : KeyType.BigInt;
  encodeKey('TopK.toBuffer', key);
  const bytes = keyBytes.subarray(keyStart, keyEnd);
  const head = Buffer.alloc(5);
  head.writeUInt8(type, 0);
  head.writeUInt32LE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

function decodeCandidate(where: string, type: number, bytes: Buffer): Key {
  switch (type) {
    case KeyType.String:
      return bytes.toString('utf8');
    case KeyType.Bytes:
      return Uint8Array.from(bytes);
    case KeyType.Number:
    case KeyType.BigInt: {
      if (bytes.length !== 8) throw new Error(`${where}: an integer key must be 8 bytes, got ${bytes.length}`);
      const v = bytes.readBigInt64LE(0);
      if (type === KeyType.BigInt) return v;
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(-Number.MAX_SAFE_INTEGER))
        throw new Error(`${where}: number key ${v} is not a safe integer`);
      return Number(v);
    }
    default:
      throw new Error(`${where}: unknown key type ${type}`);
  }
}
