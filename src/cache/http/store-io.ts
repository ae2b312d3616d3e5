// Store I/O of createCachedFetch: resolving the `store` option, marking the store's own failures (so a
// broken disk or Redis falls back to the origin while upstream errors pass as they are), converting
// bodies between fetch streams and the stores' async iterables, and the per-URL index of variants.
import { LRUCache } from 'lru-cache';
import { typeName } from '../../core/validate.js';
import { FileStore } from './file-store.js';
import { keyedHeaders, varyIndexKey, variantKey, type VaryIndex } from './keys.js';
import { MemoryStore, type CacheStore } from './store.js';

/** A failure of the store (disk, Redis), as opposed to one of the origin: the request falls back to the origin. */
export class StoreFailure extends Error {
  override name = 'StoreFailure';
}

/** The store with its rejections marked as StoreFailure; errors of the upstream body it consumes pass as they are. */
export function guarded(store: CacheStore): CacheStore {
  const fail = (error: Error): never => {
    throw new StoreFailure(error.message, { cause: error });
  };
  return {
    get: (key) => store.get(key).catch(fail),
    put: async (key, meta, body) => {
      let bodyError: unknown;
      const watched = (async function* () {
        try {
          yield* body;
        } catch (error) {
          bodyError = error;
          throw error;
        }
      })();
      const rethrow = (error: Error) => (error === bodyError ? Promise.reject(error) : fail(error));
      return store.put(key, meta, watched).catch(rethrow);
    },
    updateMeta: (key, meta) => store.updateMeta(key, meta).catch(fail),
    delete: (key) => store.delete(key).catch(fail),
    clear: () => store.clear().catch(fail),
    keys: store.keys && (() => store.keys!()),
  };
}

/** Rethrows what the store itself threw, for callers outside this module. */
export function unwrapStoreFailure(error: unknown): never {
  throw error instanceof StoreFailure ? error.cause : error;
}

/** `source` with the store's own errors rethrown as they were (for iterables handed to callers). */
export async function* unwrappedIterable<T>(source: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* source;
  } catch (error) {
    unwrapStoreFailure(error);
  }
}

export function resolveStore(where: string, value: unknown): CacheStore {
  if (value === undefined || value === 'memory') return new MemoryStore();
  if (value !== null && typeof value === 'object') {
    const candidate = value as Partial<CacheStore> & { path?: unknown; maxBytes?: number };
    if (typeof candidate.get === 'function' && typeof candidate.put === 'function') {
      for (const method of ['updateMeta', 'delete', 'clear'] as const) {
        if (typeof candidate[method] !== 'function') {
          throw new TypeError(`${where}: a custom store needs a ${method}() method`);
        }
      }
      return candidate as CacheStore;
    }
    if ('path' in candidate) return new FileStore(candidate as { path: string; maxBytes?: number });
  }
  throw new TypeError(`${where}: store must be 'memory', { path } or a CacheStore object, got ${typeName(value)}`);
}

export function streamOf(body: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = body[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await it.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      await it.return?.(reason);
    },
  });
}

export async function* bodyChunks(response: Response): AsyncIterable<Uint8Array> {
  if (response.body) yield* response.body as unknown as AsyncIterable<Uint8Array>;
}

/**
 * Which variants are stored for each primary key, kept in the store next to them (so other
 * processes see them) and cached here. Writes for one primary key run one after another.
 */
export class VariantIndexes {
  readonly #cached = new LRUCache<string, VaryIndex>({ max: 10_000 });
  readonly #writes = new Map<string, Promise<void>>();
  readonly #store: CacheStore;
  readonly #matchHeaders: readonly string[];
  readonly #ignoredHeaders: ReadonlySet<string>;

  constructor(store: CacheStore, matchHeaders: readonly string[], ignoredHeaders: ReadonlySet<string>) {
    this.#store = store;
    this.#matchHeaders = matchHeaders;
    this.#ignoredHeaders = ignoredHeaders;
  }

  /** The key of the stored variant that `request` selects. */
  async keyFor(primary: string, request: Request): Promise<string> {
    let index = this.#cached.get(primary);
    if (!index) {
      const entry = await this.#store.get(varyIndexKey(primary));
      index = (entry?.meta as VaryIndex | undefined) ?? { vary: [...this.#matchHeaders], variants: [] };
      this.#cached.set(primary, index);
    }
    return variantKey(primary, index.vary, keyedHeaders(request.headers, this.#ignoredHeaders));
  }

  /** Adds a variant to the index; a changed Vary drops the variants stored under the old one. */
  add(primary: string, vary: string[], key: string): Promise<void> {
    const previous = this.#writes.get(primary) ?? Promise.resolve();
    const write = previous.then(async () => {
      const old = this.#cached.get(primary);
      const sameVary = old !== undefined && old.vary.join() === vary.join();
      if (sameVary && old.variants.includes(key)) return;
      const variants = sameVary ? [...new Set([...old.variants, key])] : [key];
      if (old && !sameVary) await Promise.all(old.variants.filter((k) => k !== key).map((k) => this.#store.delete(k)));
      const index = { vary, variants };
      this.#cached.set(primary, index);
      await this.#store.put(varyIndexKey(primary), index, (async function* () {})());
    });
    // The next write for this key waits for this one, whether it succeeds or not; the caller sees its error.
    const tail = write.then(
      () => {},
      () => {},
    );
    this.#writes.set(primary, tail);
    tail.then(() => {
      if (this.#writes.get(primary) === tail) this.#writes.delete(primary);
    });
    return write;
  }

  /** Deletes every stored variant of `primary`; true when one existed. */
  async deleteAll(primary: string): Promise<boolean> {
    const entry = await this.#store.get(varyIndexKey(primary));
    const index = (entry?.meta as VaryIndex | undefined) ?? this.#cached.get(primary);
    this.#cached.delete(primary);
    let deleted = false;
    for (const key of index?.variants ?? []) deleted = (await this.#store.delete(key)) || deleted;
    await this.#store.delete(varyIndexKey(primary));
    return deleted;
  }

  forget(): void {
    this.#cached.clear();
  }
}
