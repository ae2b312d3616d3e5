// createCachedFetch: fetch with an RFC 9111 cache in front (requests-cache's role). Freshness, Vary
// matching and conditional-request headers come from http-cache-semantics; this module adds the
// stores, per-URL expiry, request coalescing, stale-if-error / stale-while-revalidate and accounting.
// The RFC 9111 rules live in policy.ts, keys in keys.ts, store access in store-io.ts, counts in stats.ts.
import CachePolicy from 'http-cache-semantics';
import { checkBoolean, checkOptions, typeName } from '../../core/validate.js';
import { usesRenamedOption } from '../../core/deprecate.js';
import { checkKnownOptions } from '../../core/options.js';
import { LRUCache } from 'lru-cache';
import { globToRegExp, keyedHeaders, normalizeUrl, primaryKey, VARY_INDEX_SUFFIX, variantKey, varyOf } from './keys.js';
import {
  CacheRules,
  cacheControl,
  forwardedFields,
  headersOf,
  isUnsafeMethod,
  KEPT_ON_304,
  NOT_MODIFIED_FIELDS,
  notModified,
  NULL_BODY_STATUSES,
  staleness,
  type Lifetime,
  type ResponseMeta,
} from './policy.js';
import { CacheAccounting, type CacheExplanation, type CacheState, type CacheStats } from './stats.js';
import type { CacheEntry, CacheStore } from './store.js';
import {
  bodyChunks,
  guarded,
  resolveStore,
  StoreFailure,
  streamOf,
  unwrappedIterable,
  unwrapStoreFailure,
  VariantIndexes,
} from './store-io.js';

export type { CacheExplanation, CacheState, CacheStats, OriginStats } from './stats.js';

/** A fetch Response that also says how the cache produced it (also in the `x-hotpath-cache` header). */
export type CachedResponse = Response & { readonly fromCache: boolean; readonly cacheState: CacheState };

export interface CachedFetchOptions {
  /** `'memory'` (default, 64 MiB), `{ path, maxBytes? }` for the persistent FileStore, or any CacheStore. */
  store?: 'memory' | { path: string; maxBytes?: number } | CacheStore;
  /**
   * Lifetime in ms for responses that carry no explicit one (max-age, s-maxage, Expires), in place of the
   * RFC 9111 heuristic; 0 = do not cache; Infinity = never expire.
   */
  ttl?: number;
  /** @deprecated Use `ttl` (the same milliseconds). */
  expireAfter?: number;
  /**
   * Per-URL lifetimes in ms, by glob (`*` = any characters; scheme optional; matched from the start); the
   * first match wins over ttl.
   */
  urls?: Record<string, number>;
  /** Honour the response's Cache-Control and Expires (default true); false: only ttl / urls decide. */
  cacheControl?: boolean;
  /** Serve a stale response when the origin fails (network error or 5xx): true, or the most staleness in ms. */
  staleIfError?: boolean | number;
  /** Serve a stale response at once and revalidate in the background: true, or the most staleness in ms. */
  staleWhileRevalidate?: boolean | number;
  /** Methods looked up and stored. Default ['GET', 'HEAD']; 'POST' (opt-in) keys on a hash of the body. */
  allowableMethods?: string[];
  /** Statuses that may be stored. Default: every status RFC 9111 §3 allows (explicitly fresh, or heuristic). */
  allowableCodes?: number[];
  /** Query parameters left out of the cache key and the stored URL (API keys, cache busters); still sent upstream. */
  ignoredParameters?: string[];
  /** Request headers that select a separate entry, on top of the response's Vary. */
  matchHeaders?: string[];
  /** The cache key of a request, in place of method + normalized URL (+ body hash for POST); Vary still applies. */
  key?: (request: Request) => string | Promise<string>;
  /** Act as a shared cache (honour s-maxage, refuse private). Default false: a private client cache. */
  shared?: boolean;
  /** The upstream fetch. Default globalThis.fetch. */
  fetch?: (request: Request) => Promise<Response>;
}

export interface CachedFetch {
  (input: string | URL | Request, init?: RequestInit): Promise<CachedResponse>;
  stats(): CacheStats;
  /** Removes every stored variant of `url` (GET and HEAD). */
  delete(url: string | URL): Promise<boolean>;
  clear(): Promise<void>;
  /** How the last lookup of `url` went, and why when it was not a hit. */
  explain(url: string | URL): CacheExplanation | undefined;
  /** The stored responses (needs a store with keys(): MemoryStore, FileStore and RedisStore have it). */
  entries(): AsyncIterable<CachedEntryInfo>;
  /** Deletes the stored responses whose URL matches a `urls`-style glob or a RegExp; resolves to how many. */
  deleteMatching(pattern: string | RegExp): Promise<number>;
  readonly store: CacheStore;
}

export interface CachedEntryInfo {
  /** The normalized URL (without ignoredParameters). */
  url: string;
  method: string;
  status: number;
  /** Body bytes stored. */
  size: number;
  /** When the stored response stops being fresh, or undefined when it has no freshness lifetime. */
  expires: Date | undefined;
  /**
   * Responses served from it (hits, stale and revalidated responses), by every process sharing the store;
   * with a custom store that has no CacheEntry.recordHit, by this cache instance only.
   */
  hits: number;
  /** The store key. */
  key: string;
}

const KNOWN_OPTIONS = [
  'store',
  'ttl',
  'expireAfter',
  'urls',
  'cacheControl',
  'staleIfError',
  'staleWhileRevalidate',
  'allowableMethods',
  'allowableCodes',
  'ignoredParameters',
  'matchHeaders',
  'key',
  'shared',
  'fetch',
];

const WHERE = 'createCachedFetch';

interface Stored {
  key: string;
  entry: CacheEntry;
  meta: ResponseMeta;
}

/** What an upstream exchange produced: a stored entry to serve, or a response that was not stored. */
type Outcome = { stored: Stored; state: CacheState; reason: string } | { response: Response; reason: string };

function checkMillis(name: string, value: unknown, allowZero = true): number {
  if (typeof value !== 'number') {
    throw new TypeError(`${WHERE}: ${name} must be a number of milliseconds, got ${typeName(value)}`);
  }
  if (Number.isNaN(value) || value < 0 || (!allowZero && value === 0)) {
    throw new RangeError(`${WHERE}: ${name} must be ${allowZero ? '>= 0' : '> 0'} ms, got ${value}`);
  }
  return value;
}

function checkList<T extends 'string' | 'number'>(
  name: string,
  value: unknown,
  itemType: T,
): (T extends 'string' ? string : number)[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== itemType)) {
    throw new TypeError(`${WHERE}: ${name} must be an array of ${itemType}s`);
  }
  return value;
}

/** true → unlimited; a number of ms → that bound; false/undefined → off. */
function checkStaleWindow(name: string, value: unknown): number {
  if (value === undefined || value === false) return 0;
  if (value === true) return Infinity;
  return checkMillis(name, value, false);
}

function labelled(response: Response, url: string, state: CacheState): CachedResponse {
  Object.defineProperties(response, {
    url: { value: url },
    fromCache: { value: state !== 'miss', enumerable: true },
    cacheState: { value: state, enumerable: true },
  });
  return response as CachedResponse;
}

export function createCachedFetch(options?: CachedFetchOptions): CachedFetch {
  const o = checkKnownOptions(WHERE, options, KNOWN_OPTIONS);
  const userStore = resolveStore(WHERE, o.store);
  const store = guarded(userStore);
  const renamed = { old: 'expireAfter', new: 'ttl' };
  let ttl: Lifetime;
  if (usesRenamedOption(WHERE, o, renamed, 'HOTPATH_DEP_EXPIRE_AFTER', 'the same milliseconds')) {
    ttl = checkMillis('expireAfter', o.expireAfter);
  } else if (o.ttl !== undefined) ttl = checkMillis('ttl', o.ttl);
  const urlRules = Object.entries(checkOptions(`${WHERE}: urls`, o.urls)).map(([glob, ms]) => ({
    re: globToRegExp(glob),
    ms: checkMillis(`urls['${glob}']`, ms),
  }));
  const staleIfError = checkStaleWindow('staleIfError', o.staleIfError);
  const staleWhileRevalidate = checkStaleWindow('staleWhileRevalidate', o.staleWhileRevalidate);
  const methodList =
    o.allowableMethods === undefined ? ['GET', 'HEAD'] : checkList('allowableMethods', o.allowableMethods, 'string');
  const methods = new Set(methodList.map((m) => m.toUpperCase()));
  for (const m of methods) {
    if (!['GET', 'HEAD', 'POST'].includes(m)) {
      throw new RangeError(`${WHERE}: allowableMethods may hold GET, HEAD and POST, got '${m}'`);
    }
  }
  const allowableCodes =
    o.allowableCodes === undefined ? undefined : new Set(checkList('allowableCodes', o.allowableCodes, 'number'));
  for (const s of allowableCodes ?? []) {
    if (!Number.isInteger(s) || s < 200 || s > 599) {
      throw new RangeError(`${WHERE}: allowableCodes must be integers in [200, 599], got ${s}`);
    }
  }
  const ignoredParameters =
    o.ignoredParameters === undefined ? [] : checkList('ignoredParameters', o.ignoredParameters, 'string');
  const matchHeaderList = o.matchHeaders === undefined ? [] : checkList('matchHeaders', o.matchHeaders, 'string');
  const matchHeaders = matchHeaderList.map((h) => h.toLowerCase());
  const shared = o.shared === undefined ? false : checkBoolean(WHERE, 'shared', o.shared);
  const honourCacheControl = o.cacheControl === undefined ? true : checkBoolean(WHERE, 'cacheControl', o.cacheControl);
  for (const name of ['fetch', 'key'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'function') {
      throw new TypeError(`${WHERE}: ${name} must be a function, got ${typeName(o[name])}`);
    }
  }
  const upstream = (o.fetch as (request: Request) => Promise<Response>) ?? ((request: Request) => fetch(request));
  const customKey = o.key as ((request: Request) => string | Promise<string>) | undefined;

  const ignoredHeaders = new Set(ignoredParameters.map((name) => name.toLowerCase()));
  const rules = new CacheRules({ shared, allowableCodes, staleIfError, honourCacheControl, ignoredHeaders });
  const accounting = new CacheAccounting();
  const variants = new VariantIndexes(store, matchHeaders, ignoredHeaders);
  const inFlight = new Map<string, Promise<Outcome>>();
  /** Hit counts of entries whose store does not keep them (no CacheEntry.recordHit), for this instance. */
  const hitsByKey = new LRUCache<string, number>({ max: 100_000 });
  /** Hits being recorded in the store: entries() waits for them, so a listing includes this process's hits. */
  const hitWrites = new Set<Promise<void>>();
  const normalize = (url: string) => normalizeUrl(url, ignoredParameters);
  const lifetimeFor = (url: string): Lifetime => urlRules.find((rule) => rule.re.test(url))?.ms ?? ttl;

  async function deleteUrl(url: string): Promise<boolean> {
    let deleted = false;
    for (const method of ['GET', 'HEAD']) deleted = (await variants.deleteAll(`${method} ${url}`)) || deleted;
    return deleted;
  }

  /**
   * RFC 9111 §4.4: a non-error response to an unsafe method (or one of unknown safety) invalidates the
   * target URI, and the URIs in Location and Content-Location when they have the target's origin.
   */
  async function invalidateAfter(request: Request, url: string, response: Response): Promise<void> {
    if (!isUnsafeMethod(request.method) || response.status < 200 || response.status >= 400) return;
    const targets = new Set([url]);
    for (const field of ['location', 'content-location']) {
      const value = response.headers.get(field);
      const resolved = value !== null && URL.canParse(value, request.url) ? new URL(value, request.url) : undefined;
      if (resolved && resolved.origin === new URL(url).origin) targets.add(normalize(resolved.href));
    }
    for (const target of targets) await deleteUrl(target);
  }

  /** One upstream exchange: a plain request, or a conditional one when `stale` is given. */
  async function exchange(
    request: Request,
    url: string,
    primary: string,
    lifetime: Lifetime,
    stale: Stored | undefined,
  ): Promise<Outcome> {
    const policyReq = rules.policyRequest(request, url);
    let outgoing = request;
    if (stale) {
      const conditional = CachePolicy.fromObject(stale.meta.policy).revalidationHeaders(
        rules.policyRequest(request, url, true),
      );
      delete conditional.host;
      outgoing = new Request(request, { headers: conditional as Record<string, string> });
    }
    let response: Response;
    try {
      response = await upstream(outgoing);
    } catch (error) {
      if (stale && rules.staleAllowedOnError(stale.meta)) {
        const reason = `the origin failed (${(error as Error).message}): served stale`;
        return { stored: stale, state: 'stale', reason };
      }
      throw error;
    }
    if (stale && response.status === 304) {
      await response.body?.cancel();
      const headers = { ...stale.meta.headers };
      const update = forwardedFields(response, request.method);
      for (const [name, value] of Object.entries(update.headers)) if (!KEPT_ON_304.has(name)) headers[name] = value;
      const policy = rules.newPolicy(policyReq, stale.meta.status, headers, lifetime);
      const setCookie = update.setCookie.length > 0 ? update.setCookie : stale.meta.setCookie;
      const meta: ResponseMeta = { ...stale.meta, headers, setCookie, policy: policy.toObject() };
      await store.updateMeta(stale.key, meta);
      const reason = 'the stored response was stale; the origin answered 304 Not Modified';
      return { stored: { ...stale, meta }, state: 'revalidated', reason };
    }
    if (stale && response.status >= 500 && rules.staleAllowedOnError(stale.meta)) {
      await response.body?.cancel();
      return { stored: stale, state: 'stale', reason: `the origin answered ${response.status}: served stale` };
    }
    await invalidateAfter(request, url, response);
    const { headers, setCookie, decoded } = forwardedFields(response, request.method);
    // A HEAD entry keeps the length of the representation the origin announced.
    const length = response.headers.get('content-length');
    if (request.method === 'HEAD' && length !== null) headers['content-length'] = length;
    const policy = rules.newPolicy(policyReq, response.status, headers, lifetime);
    const notStorable = rules.whyNotStorable(policy, response.status, headers, policyReq, setCookie.length > 0);
    if (notStorable) return { response, reason: `not stored: ${notStorable}` };
    const vary = varyOf(matchHeaders, headers.vary);
    const key = variantKey(primary, vary, keyedHeaders(request.headers, ignoredHeaders));
    const meta: ResponseMeta = {
      url,
      method: request.method,
      status: response.status,
      statusText: response.statusText,
      headers,
      ...(setCookie.length > 0 ? { setCookie } : {}),
      ...(decoded ? { decodedContentEncoding: decoded } : {}),
      policy: policy.toObject(),
    };
    const entry = await store.put(key, meta, bodyChunks(response));
    await variants.add(primary, vary, key);
    const reason = stale
      ? 'the stored response was stale and the origin sent a new one'
      : 'nothing stored for this request';
    return { stored: { key, entry, meta }, state: 'miss', reason };
  }

  /** Identical concurrent requests (same method, URL, body and headers) share one exchange. */
  function coalesced(id: string, run: () => Promise<Outcome>): { outcome: Promise<Outcome>; leader: boolean } {
    const pending = inFlight.get(id);
    if (pending) return { outcome: pending, leader: false };
    const outcome = run().finally(() => inFlight.delete(id));
    inFlight.set(id, outcome);
    return { outcome, leader: true };
  }

  /** A Response from a stored entry; `url` is the URL as the caller wrote it, not the normalized key. */
  function respond(stored: Stored, request: Request, state: CacheState, reason: string): CachedResponse {
    const method = request.method;
    const { meta, entry } = stored;
    const headers = headersOf(meta.headers, meta.setCookie);
    // A HEAD entry keeps the origin's length of the resource; a stored body is measured.
    if (method !== 'HEAD') headers.set('content-length', String(entry.size));
    headers.set('age', String(Math.floor(CachePolicy.fromObject(meta.policy).age())));
    headers.set('x-hotpath-cache', state);
    if (notModified(request, meta)) {
      // The client's own conditional request, answered from the stored response (RFC 9111 §4.3.2).
      const fields = new Headers();
      for (const name of [...NOT_MODIFIED_FIELDS, 'age', 'x-hotpath-cache']) {
        const value = headers.get(name);
        if (value !== null) fields.set(name, value);
      }
      const saved = state === 'miss' ? 0 : entry.size;
      accounting.record(meta.url, state, `${reason}; answered the conditional request with 304`, saved);
      if (state !== 'miss') countHit(stored);
      const notModifiedResponse = new Response(null, { status: 304, statusText: 'Not Modified', headers: fields });
      return labelled(notModifiedResponse, request.url, state);
    }
    const nullBody = method === 'HEAD' || NULL_BODY_STATUSES.has(meta.status);
    const init = { status: meta.status, statusText: meta.statusText, headers };
    const response = new Response(nullBody ? null : streamOf(entry.body()), init);
    accounting.record(meta.url, state, reason, state === 'miss' ? 0 : entry.size);
    if (state !== 'miss') countHit(stored);
    return labelled(response, request.url, state);
  }

  /**
   * Counts a response served from a stored entry, in the store when it keeps counts. Not awaited: a hit costs
   * the caller no store round trip, and a failing count costs it nothing but the store-failure warning.
   */
  function countHit({ key, entry }: Stored): void {
    if (!entry.recordHit) {
      hitsByKey.set(key, (hitsByKey.get(key) ?? 0) + 1);
      return;
    }
    const write: Promise<void> = Promise.resolve()
      .then(() => entry.recordHit!())
      .catch((error: Error) => {
        if (hitCountWarned) return;
        hitCountWarned = true;
        const message = `hotpath cache: the store failed to count a hit (${error.message}); hit counts may be low`;
        process.emitWarning(message, { code: 'HOTPATH_CACHE_STORE_FAILED' });
      })
      .finally(() => hitWrites.delete(write));
    hitWrites.add(write);
  }

  function passThrough(response: Response, request: Request, url: string, reason: string): CachedResponse {
    const fields = forwardedFields(response, request.method);
    const headers = headersOf(fields.headers, fields.setCookie);
    // The origin's length describes the body handed on unless fetch decoded it.
    const length = response.headers.get('content-length');
    if (length !== null && !fields.decoded) headers.set('content-length', length);
    headers.set('x-hotpath-cache', 'miss');
    accounting.record(url, 'miss', reason, 0);
    const body = NULL_BODY_STATUSES.has(response.status) ? null : response.body;
    const init = { status: response.status, statusText: response.statusText, headers };
    return labelled(new Response(body, init), request.url, 'miss');
  }

  /** RFC 9111 §5.2.1.7: only-if-cached with no usable stored response is answered 504, without the origin. */
  function gatewayTimeout(request: Request, url: string, why: string): CachedResponse {
    const reason = `only-if-cached: ${why}, answered 504`;
    accounting.record(url, 'miss', reason, 0);
    const headers = { 'x-hotpath-cache': 'miss' };
    return labelled(new Response(null, { status: 504, statusText: 'Gateway Timeout', headers }), request.url, 'miss');
  }

  async function settle(
    request: Request,
    url: string,
    run: () => Promise<Outcome>,
    coalesceId: string,
  ): Promise<CachedResponse> {
    const { outcome, leader } = coalesced(coalesceId, run);
    const result = await outcome;
    if ('stored' in result) {
      // Followers of a miss got what the leader stored: a hit for them.
      const state = !leader && result.state === 'miss' ? 'hit' : result.state;
      return respond(result.stored, request, state, result.reason);
    }
    // The exchange's response was not stored: only the leader may read its body; the others ask again.
    if (leader) return passThrough(result.response, request, url, result.reason);
    return passThrough(await upstream(request), request, url, result.reason);
  }

  let storeFailureWarned = false;
  let hitCountWarned = false;

  /** Warns once per cache that the store fails; every affected lookup says why in explain(). */
  function storeFailed(failure: StoreFailure): string {
    if (!storeFailureWarned) {
      storeFailureWarned = true;
      process.emitWarning(`hotpath cache: the store failed (${failure.message}); requests go to the origin uncached`, {
        code: 'HOTPATH_CACHE_STORE_FAILED',
      });
    }
    return `the store failed (${failure.message}): fetched without the cache`;
  }

  async function cachedFetch(input: string | URL | Request, init?: RequestInit): Promise<CachedResponse> {
    const request = new Request(input, init);
    const url = normalize(request.url);
    const method = request.method;
    if (!methods.has(method)) {
      const response = await upstream(request);
      let reason = `method ${method} is not in allowableMethods`;
      await invalidateAfter(request, url, response).catch((error: Error) => {
        if (!(error instanceof StoreFailure)) throw error;
        reason = storeFailed(error);
      });
      return passThrough(response, request, url, reason);
    }
    // Kept for the fallback: a body is sent upstream at most once through the cache path.
    const retry = method === 'POST' ? undefined : request.clone();
    try {
      return await lookup(request, url);
    } catch (error) {
      if (!(error instanceof StoreFailure) || !retry) unwrapStoreFailure(error);
      const reason = storeFailed(error);
      return passThrough(await upstream(retry), retry, url, reason);
    }
  }

  async function checkedKey(request: Request): Promise<string> {
    const key = await customKey!(request.clone());
    if (typeof key !== 'string') throw new TypeError(`${WHERE}: key() must return a string, got ${typeName(key)}`);
    return key;
  }

  async function lookup(request: Request, url: string): Promise<CachedResponse> {
    const lifetime = lifetimeFor(url);
    if (lifetime === 0) {
      return passThrough(await upstream(request), request, url, 'the expiry for this URL is 0 (do not cache)');
    }
    const primary = customKey ? await checkedKey(request) : await primaryKey(request, url);
    const allHeaders = JSON.stringify([...request.headers].sort());
    const coalesceId = `${primary} ${allHeaders}`;

    const key = await variants.keyFor(primary, request);
    const entry = await store.get(key);
    const onlyIfCached = cacheControl(request.headers.get('cache-control')).has('only-if-cached');
    if (!entry && onlyIfCached) return gatewayTimeout(request, url, 'nothing stored');
    if (!entry) return settle(request, url, () => exchange(request, url, primary, lifetime, undefined), coalesceId);
    const stored: Stored = { key, entry, meta: entry.meta as ResponseMeta };
    const policy = CachePolicy.fromObject(stored.meta.policy);
    // With a custom key, requests with the same key count as the same resource (the policy compares URLs).
    const evaluation = policy.evaluateRequest(rules.policyRequest(request, customKey ? stored.meta.url : url));
    const forcedByMustRevalidate = rules.mustRevalidate(stored.meta) && policy.stale();
    if (!evaluation.revalidation && !forcedByMustRevalidate) return respond(stored, request, 'hit', 'fresh');
    if (onlyIfCached) return gatewayTimeout(request, url, 'the stored response would need revalidation');

    const requestNoCache =
      cacheControl(request.headers.get('cache-control')).has('no-cache') ||
      /no-cache/.test(request.headers.get('pragma') ?? '');
    const over = staleness(policy);
    const background =
      !forcedByMustRevalidate &&
      !requestNoCache &&
      policy.stale() &&
      (evaluation.revalidation?.synchronous === false ||
        (staleWhileRevalidate > 0 && over * 1000 <= staleWhileRevalidate));
    const revalidate = () => exchange(request, url, primary, lifetime, stored);
    if (background) {
      // Serve now; refresh once for all concurrent callers and record any failure for explain().
      coalesced(coalesceId, revalidate).outcome.then(
        (outcome) => {
          if ('response' in outcome) outcome.response.body?.cancel();
          accounting.explain(url, 'stale', `background revalidation done: ${outcome.reason}`);
        },
        (error: Error) => accounting.explain(url, 'stale', `background revalidation failed: ${error.message}`),
      );
      const reason = `stale by ${over.toFixed(1)} s: served while revalidating in the background`;
      return respond(stored, request, 'stale', reason);
    }
    return settle(request, url, revalidate, coalesceId);
  }

  async function* entries(): AsyncIterable<CachedEntryInfo> {
    if (!store.keys) throw new TypeError(`${WHERE}: the store cannot list its entries (it has no keys() method)`);
    await Promise.all([...hitWrites]);
    for await (const key of store.keys()) {
      if (key.endsWith(VARY_INDEX_SUFFIX)) continue;
      const entry = await store.get(key);
      if (!entry) continue; // deleted meanwhile
      const meta = entry.meta as ResponseMeta;
      const ttl = CachePolicy.fromObject(meta.policy).timeToLive();
      yield {
        url: meta.url,
        method: meta.method ?? key.slice(0, key.indexOf(' ')),
        status: meta.status,
        size: entry.size,
        expires: ttl > 0 ? new Date(Date.now() + ttl) : undefined,
        hits: entry.hits ? await entry.hits() : (hitsByKey.get(key) ?? 0),
        key,
      };
    }
  }

  async function deleteMatching(pattern: string | RegExp): Promise<number> {
    if (typeof pattern !== 'string' && !(pattern instanceof RegExp)) {
      throw new TypeError(`${WHERE}: deleteMatching() takes a glob string or a RegExp, got ${typeName(pattern)}`);
    }
    const re = typeof pattern === 'string' ? globToRegExp(pattern) : pattern;
    const matching: string[] = [];
    for await (const entry of entries()) if (re.test(entry.url)) matching.push(entry.key);
    for (const key of matching) await store.delete(key);
    variants.forget();
    return matching.length;
  }

  return Object.assign(cachedFetch, {
    entries: () => unwrappedIterable(entries()),
    deleteMatching: (pattern: string | RegExp) => deleteMatching(pattern).catch(unwrapStoreFailure),
    stats: (): CacheStats => accounting.snapshot(),
    delete: (url: string | URL) => deleteUrl(normalize(String(url))).catch(unwrapStoreFailure),
    clear: async () => {
      variants.forget();
      accounting.forgetExplanations();
      await store.clear().catch(unwrapStoreFailure);
    },
    explain: (url: string | URL) => accounting.explanation(normalize(String(url))),
    store: userStore,
  });
}
