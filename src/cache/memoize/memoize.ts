// functools.lru_cache for JavaScript, on lru-cache: stable argument keys, shared in-flight promises,
// optional failure caching and stale-while-revalidate, and a standard method decorator.
import { LRUCache } from 'lru-cache';
import { checkKnownOptions } from '../../core/options.js';
import { checkBoolean, checkInteger, typeName } from '../../core/validate.js';
import { argumentsKey, receiverKey } from './key.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any function, whatever its parameters
type AnyFunction = (...args: any[]) => any;

export interface MemoizeOptions<F extends AnyFunction = AnyFunction> {
  /**
   * Most entries kept (least recently used go first). Default 128, as in Python; Infinity: unbounded;
   * 0: no caching.
   */
  max?: number;
  /** Bound on the total of `sizeCalculation` over the entries. */
  maxSize?: number;
  /** Size of one result (of the resolved value for promises); needed with `maxSize`. */
  sizeCalculation?: (value: Awaited<ReturnType<F>>, key: string) => number;
  /** Milliseconds an entry stays fresh. Default: no expiry. */
  ttl?: number;
  /** Computes the cache key from the arguments instead of the default stable hash. */
  key?: (...args: Parameters<F>) => string;
  /** Distinguish arguments equal as text but of different types (1 and '1'), like Python's typed=True. */
  typed?: boolean;
  /** Milliseconds a rejected promise stays cached. Default: rejections are not cached. */
  errorTtl?: number;
  /** With `ttl`: serve a stale value at once and refresh it in the background. The function becomes async. */
  staleWhileRevalidate?: boolean;
}

export interface CacheInfo {
  hits: number;
  misses: number;
  /** The entry bound (`max`), Python's maxsize. */
  maxSize: number;
  /** Entries now cached, Python's currsize. */
  currSize: number;
}

/** The options a memoized function was made with, Python's cache_parameters(). */
export interface CacheParameters {
  max: number;
  maxSize: number | undefined;
  ttl: number | undefined;
  typed: boolean;
  errorTtl: number | undefined;
  staleWhileRevalidate: boolean;
}

export interface MemoizedMembers {
  cacheInfo(): CacheInfo;
  cacheParameters(): CacheParameters;
  /** The wrapped function itself, bypassing the cache (Python's __wrapped__). */
  readonly uncached: AnyFunction;
  /** Drops every entry and zeroes hits and misses. */
  cacheClear(): void;
  /** The underlying lru-cache, for inspection. Values are results, promises, or a marker for `undefined`. */
  readonly cache: LRUCache<string, {}>;
}

export type Memoized<F extends AnyFunction> = F & MemoizedMembers;

/** Stands in for an `undefined` result: lru-cache treats storing undefined as a delete. */
const UNDEFINED = Symbol('memoize.undefined');

const unwrap = (value: unknown) => (value === UNDEFINED ? undefined : value);

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

interface CheckedOptions {
  max: number;
  typed: boolean;
  maxSize?: number;
  sizeCalculation?: (value: unknown, key: string) => number;
  ttl?: number;
  keyOf: (self: unknown, args: unknown[]) => string;
  errorTtl?: number;
  staleWhileRevalidate: boolean;
}

/** `byReceiver`: the default key includes `this` (false for the decorator, whose cache is already per instance). */
function checkMemoizeOptions(raw: unknown, byReceiver = true): CheckedOptions {
  const o = checkKnownOptions('memoize', raw, [
    'max',
    'maxSize',
    'sizeCalculation',
    'ttl',
    'key',
    'typed',
    'errorTtl',
    'staleWhileRevalidate',
  ]);
  const optionalInteger = (name: string, min: number) =>
    o[name] === undefined ? undefined : checkInteger('memoize', name, o[name], min);
  const optionalFunction = (name: string) => {
    if (o[name] !== undefined && typeof o[name] !== 'function')
      throw new TypeError(`memoize: ${name} must be a function, got ${typeName(o[name])}`);
    return o[name] as AnyFunction | undefined;
  };
  const max = o.max === Infinity ? Infinity : (optionalInteger('max', 0) ?? 128);
  const maxSize = optionalInteger('maxSize', 1);
  const ttl = optionalInteger('ttl', 1);
  const errorTtl = optionalInteger('errorTtl', 1);
  const sizeCalculation = optionalFunction('sizeCalculation');
  const key = optionalFunction('key');
  const typed = o.typed === undefined ? false : checkBoolean('memoize', 'typed', o.typed);
  const staleWhileRevalidate =
    o.staleWhileRevalidate === undefined
      ? false
      : checkBoolean('memoize', 'staleWhileRevalidate', o.staleWhileRevalidate);
  if (maxSize !== undefined && !sizeCalculation)
    throw new TypeError('memoize: maxSize needs a sizeCalculation function');
  if (staleWhileRevalidate && ttl === undefined) throw new TypeError('memoize: staleWhileRevalidate needs a ttl');
  if (staleWhileRevalidate && errorTtl !== undefined) {
    throw new TypeError(
      'memoize: errorTtl and staleWhileRevalidate do not combine (a failed refresh keeps the stale value)',
    );
  }
  const keyOf = key
    ? (self: unknown, args: unknown[]) => {
        const k: unknown = key.apply(self, args);
        if (typeof k !== 'string') throw new TypeError(`memoize: options.key must return a string, got ${typeName(k)}`);
        return k;
      }
    : byReceiver
      ? (self: unknown, args: unknown[]) => receiverKey(self) + argumentsKey(args, typed)
      : (_self: unknown, args: unknown[]) => argumentsKey(args, typed);
  if (max === 0 && staleWhileRevalidate)
    throw new TypeError('memoize: max 0 (no caching) and staleWhileRevalidate do not combine');
  return { max, typed, maxSize, sizeCalculation, ttl, keyOf, errorTtl, staleWhileRevalidate };
}

function attachMembers<F extends AnyFunction>(
  memoized: F,
  wrapped: F,
  cache: LRUCache<string, {}>,
  counters: { hits: number; misses: number },
  o: CheckedOptions,
): Memoized<F> {
  // The wrapper reads as the function it wraps (name, length), as functools.wraps makes it.
  Object.defineProperty(memoized, 'name', { value: wrapped.name, configurable: true });
  Object.defineProperty(memoized, 'length', { value: wrapped.length, configurable: true });
  const { max, maxSize, ttl, typed, errorTtl, staleWhileRevalidate } = o;
  const members: MemoizedMembers = {
    cacheInfo: () => ({ hits: counters.hits, misses: counters.misses, maxSize: max, currSize: cache.size }),
    cacheParameters: () => ({ max, maxSize, ttl, typed, errorTtl, staleWhileRevalidate }),
    uncached: wrapped,
    cacheClear: () => {
      cache.clear();
      counters.hits = 0;
      counters.misses = 0;
    },
    cache,
  };
  return Object.assign(memoized, members);
}

/** lru-cache bounds: `max` Infinity becomes a count bound through sizes of 1 (lru-cache needs some bound). */
function bounds(o: CheckedOptions): { max?: number; maxSize?: number; sizeCalculation?: () => number } {
  if (o.max !== Infinity) return { max: o.max, maxSize: o.maxSize };
  return o.maxSize !== undefined
    ? { maxSize: o.maxSize }
    : { maxSize: Number.MAX_SAFE_INTEGER, sizeCalculation: () => 1 };
}

function memoizeFunction<F extends AnyFunction>(fn: F, raw: unknown, byReceiver = true): Memoized<F> {
  const o = checkMemoizeOptions(raw, byReceiver);
  const counters = { hits: 0, misses: 0 };
  const sizeOf = o.sizeCalculation;
  if (o.staleWhileRevalidate) {
    type Context = { self: unknown; args: unknown[] };
    const cache = new LRUCache<string, {}, Context>({
      ...bounds(o),
      ttl: o.ttl,
      ...(sizeOf ? { sizeCalculation: (value: {}, key: string) => sizeOf(unwrap(value), key) } : {}),
      allowStale: true,
      allowStaleOnFetchRejection: true,
      fetchMethod: async (_key, _stale, { context }) =>
        ((await fn.apply(context.self, context.args)) ?? UNDEFINED) as {},
    } as LRUCache.Options<string, {}, Context>);
    const memoized = function (this: unknown, ...args: unknown[]) {
      const status: LRUCache.Status<string, {}, Context> = {};
      const pending = cache.fetch(o.keyOf(this, args), { context: { self: this, args }, status });
      if (status.fetch === 'miss') counters.misses++;
      else counters.hits++;
      return pending.then(unwrap);
    } as F;
    return attachMembers(memoized, fn, cache as unknown as LRUCache<string, {}>, counters, o);
  }

  if (o.max === 0) {
    // Python's maxsize=0: nothing is cached, every call is a miss.
    const memoized = function (this: unknown, ...args: unknown[]) {
      counters.misses++;
      return fn.apply(this, args);
    } as F;
    return attachMembers(memoized, fn, new LRUCache<string, {}>({ max: 1 }), counters, o);
  }

  const cache = new LRUCache<string, {}>({ ...bounds(o), ttl: o.ttl } as LRUCache.Options<string, {}, unknown>);
  const sizeOption = (value: unknown, key: string) => (sizeOf ? { size: sizeOf(value, key) } : undefined);
  const memoized = function (this: unknown, ...args: unknown[]) {
    const key = o.keyOf(this, args);
    const cached = cache.get(key);
    if (cached !== undefined) {
      counters.hits++;
      return unwrap(cached);
    }
    counters.misses++;
    const result = fn.apply(this, args);
    if (!isPromiseLike(result)) {
      cache.set(key, result === undefined ? UNDEFINED : result, sizeOption(result, key));
      return result;
    }
    // Stored while in flight, so concurrent calls share it; sized once it resolves.
    cache.set(key, result, sizeOf ? { size: 1 } : undefined);
    result.then(
      (value) => {
        // A new settled promise for the same value: lru-cache re-sizes an entry only when its value changes.
        if (sizeOf && cache.peek(key) === result)
          cache.set(key, Promise.resolve(value), { size: sizeOf(value, key), noUpdateTTL: true });
      },
      () => {
        if (cache.peek(key) !== result) return;
        if (o.errorTtl === undefined) cache.delete(key);
        else cache.set(key, result, { ttl: o.errorTtl, ...(sizeOf ? { size: 1 } : {}) });
      },
    );
    return result;
  } as F;
  return attachMembers(memoized, fn, cache, counters, o);
}

export type MemoizeDecorator = <This, F extends AnyFunction>(
  method: F,
  context: ClassMethodDecoratorContext<This, F>,
) => void;

/**
 * `memoize(fn, options?)` returns a memoized `fn`; `@memoize(options?)` decorates a method (TypeScript
 * standard decorators) with one cache per instance, reachable as `instance.method.cacheInfo()`.
 */
export function memoize<F extends AnyFunction>(fn: F, options?: MemoizeOptions<F>): Memoized<F>;
export function memoize(options?: MemoizeOptions): MemoizeDecorator;
export function memoize(
  fnOrOptions?: AnyFunction | MemoizeOptions,
  options?: MemoizeOptions,
): Memoized<AnyFunction> | MemoizeDecorator {
  if (typeof fnOrOptions === 'function') return memoizeFunction(fnOrOptions, options);
  checkMemoizeOptions(fnOrOptions);
  return (method: AnyFunction, context: ClassMethodDecoratorContext) => {
    if (context?.kind !== 'method')
      throw new TypeError(`@memoize() decorates methods, got ${context?.kind ?? typeName(context)}`);
    if (context.private) throw new TypeError(`@memoize() cannot decorate the private method ${String(context.name)}`);
    context.addInitializer(function (this: unknown) {
      const memoized = memoizeFunction(method.bind(this), fnOrOptions, false);
      Object.defineProperty(this, context.name, { value: memoized, writable: true, configurable: true });
    });
  };
}
