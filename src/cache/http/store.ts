// The storage interface behind createCachedFetch, and its default in-memory implementation.
import { LRUCache } from 'lru-cache';
import { checkInteger, typeName } from '../../core/validate.js';
import { checkKnownOptions } from '../../core/options.js';

/** What a store keeps for one cached response: JSON-serializable metadata and the body bytes. */
export interface CacheEntry {
  /** JSON-serializable; written by createCachedFetch, opaque to the store. */
  meta: unknown;
  /** Body length in bytes. */
  size: number;
  /** The body, readable any number of times while the entry exists. */
  body(): AsyncIterable<Uint8Array>;
  /**
   * Counts one response served from this entry, where every process sharing the store sees it (optional:
   * createCachedFetch counts in memory, per instance, for stores without it). Never rewrites the body.
   */
  recordHit?(): Promise<void>;
  /** The hits recorded for this entry so far, by every process sharing the store (optional, with recordHit). */
  hits?(): Promise<number>;
}

/**
 * A place to keep responses. `put` consumes `body` and resolves to the entry it stored (an entry too
 * large to keep is still returned, readable once). Every method may be called concurrently.
 */
export interface CacheStore {
  get(key: string): Promise<CacheEntry | undefined>;
  /** Body chunks may be Uint8Array or string (stored as UTF-8). */
  put(key: string, meta: unknown, body: AsyncIterable<Uint8Array | string>): Promise<CacheEntry>;
  /** Replaces the metadata of an existing entry, keeping its body (after a 304). */
  updateMeta(key: string, meta: unknown): Promise<void>;
  delete(key: string): Promise<boolean>;
  clear(): Promise<void>;
  /** Every stored key (optional: needed for listing entries and deleting by pattern). */
  keys?(): AsyncIterable<string>;
}

/** A body chunk as bytes: Uint8Array as it is, a string as UTF-8; anything else is a TypeError. */
export function toBytes(where: string, chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new TypeError(`${where}: body chunks must be Uint8Array or string, got ${typeName(chunk)}`);
}

/** Bytes counted for an entry's metadata and bookkeeping on top of its body, so empty bodies cost something. */
const ENTRY_OVERHEAD = 1024;

export interface MemoryStoreOptions {
  /** Bound on the bytes held (bodies plus a fixed overhead per entry). Default 64 MiB. */
  maxBytes?: number;
}

interface MemoryEntry {
  meta: unknown;
  chunks: Uint8Array[];
  size: number;
  /** Shared by the versions of the entry updateMeta makes, so that a hit counts on the current one. */
  hits: { count: number };
}

function entryOf(stored: MemoryEntry): CacheEntry {
  return {
    meta: stored.meta,
    size: stored.size,
    async *body() {
      yield* stored.chunks;
    },
    async recordHit() {
      stored.hits.count++;
    },
    async hits() {
      return stored.hits.count;
    },
  };
}

/** Keeps bodies as the chunks they arrived in (never copied into one buffer), bounded by lru-cache's maxSize. */
export class MemoryStore implements CacheStore {
  readonly maxBytes: number;
  readonly #cache: LRUCache<string, MemoryEntry>;

  constructor(options?: MemoryStoreOptions) {
    const o = checkKnownOptions('MemoryStore', options, ['maxBytes']);
    this.maxBytes =
      o.maxBytes === undefined ? 64 * 1024 * 1024 : checkInteger('MemoryStore', 'maxBytes', o.maxBytes, 1);
    this.#cache = new LRUCache<string, MemoryEntry>({
      maxSize: this.maxBytes,
      sizeCalculation: (e) => e.size + ENTRY_OVERHEAD,
    });
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    const stored = this.#cache.get(key);
    return stored && entryOf(stored);
  }

  async put(key: string, meta: unknown, body: AsyncIterable<Uint8Array | string>): Promise<CacheEntry> {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of body) {
      const bytes = toBytes('MemoryStore.put', chunk);
      chunks.push(bytes);
      size += bytes.byteLength;
    }
    const stored = { meta, chunks, size, hits: { count: 0 } };
    this.#cache.set(key, stored);
    return entryOf(stored);
  }

  async updateMeta(key: string, meta: unknown): Promise<void> {
    const stored = this.#cache.get(key);
    if (stored) this.#cache.set(key, { ...stored, meta });
  }

  async delete(key: string): Promise<boolean> {
    return this.#cache.delete(key);
  }

  async clear(): Promise<void> {
    this.#cache.clear();
  }

  async *keys(): AsyncIterable<string> {
    yield* [...this.#cache.keys()];
  }

  /** Bytes now counted against maxBytes. */
  get bytes(): number {
    return this.#cache.calculatedSize;
  }
}
