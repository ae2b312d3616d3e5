export { argumentsKey } from './memoize/key.js';
export { memoize, type CacheInfo, type Memoized, type MemoizedMembers, type MemoizeDecorator, type MemoizeOptions } from './memoize/memoize.js';
