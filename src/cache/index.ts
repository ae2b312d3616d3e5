export { argumentsKey } from './memoize/key.js';
export {
  memoize,
  type CacheInfo,
  type CacheParameters,
  type Memoized,
  type MemoizedMembers,
  type MemoizeDecorator,
  type MemoizeOptions,
} from './memoize/memoize.js';
export {
  createCachedFetch,
  type CachedFetch,
  type CachedEntryInfo,
  type CachedFetchOptions,
  type CachedResponse,
  type CacheExplanation,
  type CacheState,
  type CacheStats,
  type OriginStats,
} from './http/cached-fetch.js';
export { FileStore, type FileStoreOptions } from './http/file-store.js';
export { MemoryStore, type CacheEntry, type CacheStore, type MemoryStoreOptions } from './http/store.js';
export { RedisStore, type RedisStoreOptions } from './http/redis-store.js';
