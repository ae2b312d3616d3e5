// createCachedFetch: fetch with an RFC 9111 cache in front (requests-cache's role). Freshness, Vary
// matching and conditional-request headers come from http-cache-semantics; this module adds the
// stores, per-URL expiry, request coalescing, stale-if-error / stale-while-revalidate and accounting.
import { createHash } from 'node:crypto';
import CachePolicy from 'http-cache-semantics';
import { LRUCache } from 'lru-cache';
import { checkBoolean, checkOptions, typeName } from '../../core/validate.js';
import { FileStore } from './file-store.js';
import { MemoryStore, type CacheEntry, type CacheStore } from './store.js';

export type CacheState = 'hit' | 'miss' | 'revalidated' | 'stale';

/** A fetch Response that also says how the cache produced it (also in the `x-hotpath-cache` header). */
export type CachedResponse = Response & { readonly fromCache: boolean; readonly cacheState: CacheState };

export interface CachedFetchOptions {
  /** `'memory'` (default, 64 MiB), `{ path, maxBytes? }` for the persistent FileStore, or any CacheStore (e.g. a RedisStore). */
  store?: 'memory' | { path: string; maxBytes?: number } | CacheStore;
  /** Lifetime in ms for responses that carry no explicit one (max-age, s-maxage, Expires); 0 = do not cache. Default: RFC 9111 heuristic. */
  expireAfter?: number;
  /** Per-URL lifetimes in ms, by glob (`*` = any characters; scheme optional; matched from the start); first match wins over expireAfter. */
  urls?: Record<string, number>;
  /** Serve a stale response when the origin fails (network error or 5xx): true, or the most staleness in ms. Default false. */
  staleIfError?: boolean | number;
  /** Serve a stale response at once and revalidate in the background: true, or the most staleness in ms. Default false. */
  staleWhileRevalidate?: boolean | number;
  /** Methods looked up and stored. Default ['GET', 'HEAD']; 'POST' keys on a hash of the body. */
  methods?: string[];
  /** Statuses stored. Default: those RFC 9110 makes cacheable by default (200, 203, 204, 206 excluded, 300, 301, 308, 404, 405, 410, 414, 501). */
  statuses?: number[];
  /** Query parameters left out of the cache key (API keys, cache busters); still sent upstream. */
  ignoredParams?: string[];
  /** Request headers that select a separate entry, on top of the response's Vary. */
  matchHeaders?: string[];
  /** Act as a shared cache (honour s-maxage, refuse private). Default false: a private client cache. */
  shared?: boolean;
  /** The upstream fetch. Default globalThis.fetch. */
  fetch?: (request: Request) => Promise<Response>;
}

export interface OriginStats {
  hits: number;
  misses: number;
  revalidated: number;
  stale: number;
  /** Body bytes served from the cache instead of the network. */
  bytesSaved: number;
}

export interface CacheStats extends OriginStats {
  origins: Record<string, OriginStats>;
}

export interface CacheExplanation {
  url: string;
  state: CacheState;
  reason: string;
}

export interface CachedFetch {
  (input: string | URL | Request, init?: RequestInit): Promise<CachedResponse>;
  stats(): CacheStats;
  /** Removes every stored variant of `url` (GET and HEAD). */
  delete(url: string | URL): Promise<boolean>;
  clear(): Promise<void>;
  /** How the last lookup of `url` went, and why when it was not a hit. */
  explain(url: string | URL): CacheExplanation | undefined;
  readonly store: CacheStore;
}

const WHERE = 'createCachedFetch';
const DEFAULT_STATUSES = [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501];
/** RFC 9111 §4.4: a successful unsafe request invalidates what is stored for its URL. */
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);
/** Not stored: the stored body is already decoded, and cookies are not replayed from a cache. */
const UNSTORED_HEADERS = new Set(['content-encoding', 'transfer-encoding', 'content-length', 'set-cookie', 'connection', 'keep-alive']);
/** RFC 9111 §3.2: a 304 updates the stored headers except these. */
const KEPT_ON_304 = new Set(['content-length', 'content-encoding', 'content-type', 'content-range', 'transfer-encoding']);
/** delta-seconds cap of RFC 9111 §1.2.2, used for "never expires". */
const MAX_DELTA_SECONDS = 2147483648;

interface ResponseMeta {
  url: string;
  status: number;
  statusText: string;
  headers: Record<string, string>;
  policy: CachePolicy.CachePolicyObject;
}

interface VaryIndex {
  /** Lowercased request header names that select the variant (matchHeaders, then Vary). */
  vary: string[];
  variants: string[];
}

interface Stored {
  key: string;
  entry: CacheEntry;
  meta: ResponseMeta;
}

/** What an upstream exchange produced: a stored entry to serve, or a response that was not stored. */
type Outcome = { stored: Stored; state: CacheState; reason: string } | { response: Response; reason: string };

type Lifetime = number | undefined;

function checkMillis(name: string, value: unknown, allowZero = true): number {
  if (typeof value !== 'number') throw new TypeError(`${WHERE}: ${name} must be a number of milliseconds, got ${typeName(value)}`);
  if (Number.isNaN(value) || value < 0 || (!allowZero && value === 0)) throw new RangeError(`${WHERE}: ${name} must be ${allowZero ? '>= 0' : '> 0'} ms, got ${value}`);
  return value;
}

function checkList<T extends 'string' | 'number'>(name: string, value: unknown, itemType: T): (T extends 'string' ? string : number)[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== itemType)) throw new TypeError(`${WHERE}: ${name} must be an array of ${itemType}s`);
  return value;
}

/** true → unlimited; a number of ms → that bound; false/undefined → off. */
function checkStaleWindow(name: string, value: unknown): number {
  if (value === undefined || value === false) return 0;
  if (value === true) return Infinity;
  return checkMillis(name, value, false);
}

function globToRegExp(glob: string): RegExp {
  const withScheme = glob.includes('://') ? glob : `*://${glob}`;
  return new RegExp(`^${withScheme.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}`);
}

function cacheControl(value: string | undefined): Map<string, string> {
  const directives = new Map<string, string>();
  for (const part of (value ?? '').split(',')) {
    const [name, arg = ''] = part.trim().split('=', 2);
    if (name) directives.set(name.toLowerCase(), arg.replace(/^"|"$/g, ''));
  }
  return directives;
}

function seconds(text: string | undefined): number {
  const n = Number.parseInt(text ?? '', 10);
  return Number.isFinite(n) ? n : 0;
}

function headerObject(headers: Headers, skip: Set<string>): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (!skip.has(name)) out[name] = value;
  });
  return out;
}

function streamOf(body: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
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

async function* bodyChunks(response: Response): AsyncIterable<Uint8Array> {
  if (response.body) yield* response.body as unknown as AsyncIterable<Uint8Array>;
}

function labelled(response: Response, url: string, state: CacheState): CachedResponse {
  Object.defineProperties(response, {
    url: { value: url },
    fromCache: { value: state !== 'miss', enumerable: true },
    cacheState: { value: state, enumerable: true },
  });
  return response as CachedResponse;
}

function emptyStats(): OriginStats {
  return { hits: 0, misses: 0, revalidated: 0, stale: 0, bytesSaved: 0 };
}

/** A failure of the store (disk, Redis), as opposed to one of the origin: the request falls back to the origin. */
class StoreFailure extends Error {
  override name = 'StoreFailure';
}

/** The store with its rejections marked as StoreFailure; errors of the upstream body it consumes pass as they are. */
function guarded(store: CacheStore): CacheStore {
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
      return store.put(key, meta, watched).catch((error: Error) => (error === bodyError ? Promise.reject(error) : fail(error)));
    },
    updateMeta: (key, meta) => store.updateMeta(key, meta).catch(fail),
    delete: (key) => store.delete(key).catch(fail),
    clear: () => store.clear().catch(fail),
  };
}

/** Rethrows what the store itself threw, for callers outside this module. */
function unwrapStoreFailure(error: unknown): never {
  throw error instanceof StoreFailure ? error.cause : error;
}

function resolveStore(value: unknown): CacheStore {
  if (value === undefined || value === 'memory') return new MemoryStore();
  if (value !== null && typeof value === 'object') {
    const candidate = value as Partial<CacheStore> & { path?: unknown; maxBytes?: number };
    if (typeof candidate.get === 'function' && typeof candidate.put === 'function') {
      for (const method of ['updateMeta', 'delete', 'clear'] as const) {
        if (typeof candidate[method] !== 'function') throw new TypeError(`${WHERE}: a custom store needs a ${method}() method`);
      }
      return candidate as CacheStore;
    }
    if ('path' in candidate) return new FileStore({ path: candidate.path as string, maxBytes: candidate.maxBytes });
  }
  throw new TypeError(`${WHERE}: store must be 'memory', { path } or a CacheStore object, got ${typeName(value)}`);
}

export function createCachedFetch(options?: CachedFetchOptions): CachedFetch {
  const o = checkOptions(WHERE, options);
  const userStore = resolveStore(o.store);
  const store = guarded(userStore);
  const expireAfter: Lifetime = o.expireAfter === undefined ? undefined : checkMillis('expireAfter', o.expireAfter);
  const urlRules = Object.entries(checkOptions(`${WHERE}: urls`, o.urls)).map(([glob, ms]) => ({ re: globToRegExp(glob), ms: checkMillis(`urls['${glob}']`, ms) }));
  const staleIfError = checkStaleWindow('staleIfError', o.staleIfError);
  const staleWhileRevalidate = checkStaleWindow('staleWhileRevalidate', o.staleWhileRevalidate);
  const methods = new Set((o.methods === undefined ? ['GET', 'HEAD'] : checkList('methods', o.methods, 'string')).map((m) => m.toUpperCase()));
  for (const m of methods) if (!['GET', 'HEAD', 'POST'].includes(m)) throw new RangeError(`${WHERE}: methods may hold GET, HEAD and POST, got '${m}'`);
  const statuses = new Set(o.statuses === undefined ? DEFAULT_STATUSES : checkList('statuses', o.statuses, 'number'));
  for (const s of statuses) if (!Number.isInteger(s) || s < 200 || s > 599) throw new RangeError(`${WHERE}: statuses must be integers in [200, 599], got ${s}`);
  const ignoredParams = o.ignoredParams === undefined ? [] : checkList('ignoredParams', o.ignoredParams, 'string');
  const matchHeaders = (o.matchHeaders === undefined ? [] : checkList('matchHeaders', o.matchHeaders, 'string')).map((h) => h.toLowerCase());
  const shared = o.shared === undefined ? false : checkBoolean(WHERE, 'shared', o.shared);
  if (o.fetch !== undefined && typeof o.fetch !== 'function') throw new TypeError(`${WHERE}: fetch must be a function, got ${typeName(o.fetch)}`);
  const upstream = (o.fetch as (request: Request) => Promise<Response>) ?? ((request: Request) => fetch(request));

  const totals = emptyStats();
  const origins = new Map<string, OriginStats>();
  const explanations = new LRUCache<string, CacheExplanation>({ max: 1000 });
  const varyIndexes = new LRUCache<string, VaryIndex>({ max: 10_000 });
  const inFlight = new Map<string, Promise<Outcome>>();
  const indexWrites = new Map<string, Promise<void>>();

  function normalize(url: string): string {
    const u = new URL(url);
    u.hash = '';
    for (const p of ignoredParams) u.searchParams.delete(p);
    u.searchParams.sort();
    return u.href;
  }

  function lifetimeFor(url: string): Lifetime {
    return urlRules.find((rule) => rule.re.test(url))?.ms ?? expireAfter;
  }

  function record(url: string, state: CacheState, reason: string, bytesSaved: number): void {
    const origin = new URL(url).origin;
    let perOrigin = origins.get(origin);
    if (!perOrigin) origins.set(origin, (perOrigin = emptyStats()));
    for (const s of [totals, perOrigin]) {
      s[state === 'hit' ? 'hits' : state === 'miss' ? 'misses' : state]++;
      s.bytesSaved += bytesSaved;
    }
    explanations.set(url, { url, state, reason });
  }

  function policyRequest(request: Request, url: string): CachePolicy.Request {
    const headers: CachePolicy.Headers = headerObject(request.headers, new Set());
    headers.host = new URL(url).host;
    return { url, method: request.method, headers };
  }

  /**
   * The headers the policy sees: the lifetime from expireAfter/urls stands in where the response has
   * no explicit one, and must-revalidate is applied here (http-cache-semantics 4.3 revalidates even
   * fresh must-revalidate responses; RFC 9111 §5.2.2.2 only forbids serving them stale).
   */
  function policyHeaders(headers: Record<string, string>, lifetime: Lifetime): CachePolicy.Headers {
    const cc = cacheControl(headers['cache-control']);
    cc.delete('must-revalidate');
    const explicit = cc.has('max-age') || (shared && cc.has('s-maxage')) || headers.expires !== undefined;
    if (!explicit && lifetime !== undefined) cc.set('max-age', String(lifetime === Infinity ? MAX_DELTA_SECONDS : Math.max(1, Math.round(lifetime / 1000))));
    const text = [...cc].map(([k, v]) => (v ? `${k}=${v}` : k)).join(', ');
    return { ...headers, 'cache-control': text || undefined };
  }

  function newPolicy(request: CachePolicy.Request, status: number, headers: Record<string, string>, lifetime: Lifetime): CachePolicy {
    return new CachePolicy(request, { status, headers: policyHeaders(headers, lifetime) }, { shared });
  }

  const mustRevalidate = (meta: ResponseMeta) => {
    const cc = cacheControl(meta.headers['cache-control']);
    return cc.has('must-revalidate') || (shared && cc.has('proxy-revalidate'));
  };

  /** Seconds past the freshness lifetime (negative while fresh). */
  const staleness = (policy: CachePolicy) => policy.age() - policy.maxAge();

  function staleAllowedOnError(stored: Stored): boolean {
    if (mustRevalidate(stored.meta)) return false;
    const over = staleness(CachePolicy.fromObject(stored.meta.policy));
    const directive = cacheControl(stored.meta.headers['cache-control']).get('stale-if-error');
    return (staleIfError > 0 && over * 1000 <= staleIfError) || (directive !== undefined && over <= seconds(directive));
  }

  async function variantKey(primary: string, request: Request): Promise<string> {
    let index = varyIndexes.get(primary);
    if (!index) {
      const entry = await store.get(`${primary} vary-index`);
      index = (entry?.meta as VaryIndex | undefined) ?? { vary: matchHeaders, variants: [] };
      varyIndexes.set(primary, index);
    }
    return keyFor(primary, index.vary, request);
  }

  function keyFor(primary: string, vary: string[], request: Request): string {
    return vary.length === 0 ? primary : `${primary} | ${vary.map((h) => `${h}=${request.headers.get(h) ?? ''}`).join(' | ')}`;
  }

  /** Adds a variant to the URL's index; writes for one URL run one after another. */
  function addVariant(primary: string, vary: string[], key: string): Promise<void> {
    const previous = indexWrites.get(primary) ?? Promise.resolve();
    const write = previous.then(async () => {
      const old = varyIndexes.get(primary);
      const sameVary = old !== undefined && old.vary.join() === vary.join();
      if (sameVary && old.variants.includes(key)) return;
      const variants = sameVary ? [...new Set([...old.variants, key])] : [key];
      if (old && !sameVary) await Promise.all(old.variants.filter((k) => k !== key).map((k) => store.delete(k)));
      const index = { vary, variants };
      varyIndexes.set(primary, index);
      await store.put(`${primary} vary-index`, index, (async function* () {})());
    });
    // The next write for this URL waits for this one, whether it succeeds or not; the caller sees its error.
    const tail = write.then(
      () => {},
      () => {},
    );
    indexWrites.set(primary, tail);
    tail.then(() => {
      if (indexWrites.get(primary) === tail) indexWrites.delete(primary);
    });
    return write;
  }

  async function deleteUrl(url: string): Promise<boolean> {
    let deleted = false;
    for (const method of ['GET', 'HEAD']) {
      const primary = `${method} ${url}`;
      const entry = await store.get(`${primary} vary-index`);
      const index = (entry?.meta as VaryIndex | undefined) ?? varyIndexes.get(primary);
      varyIndexes.delete(primary);
      for (const key of index?.variants ?? []) deleted = (await store.delete(key)) || deleted;
      await store.delete(`${primary} vary-index`);
    }
    return deleted;
  }

  function whyNotStorable(policy: CachePolicy, status: number, headers: Record<string, string>, request: CachePolicy.Request): string | undefined {
    if (!statuses.has(status)) return `status ${status} is not in statuses`;
    if (!policy.storable()) {
      const cc = cacheControl(headers['cache-control']);
      if (cc.has('no-store')) return 'the response says cache-control: no-store';
      if (cacheControl(request.headers['cache-control'] as string | undefined).has('no-store')) return 'the request says cache-control: no-store';
      if (headers.vary?.trim() === '*') return 'the response says Vary: *';
      if (shared && cc.has('private')) return 'the response is private and this cache is shared';
      return `the response is not storable under RFC 9111 §3 (${request.method} ${status})`;
    }
    if (policy.timeToLive() === 0 && headers.etag === undefined && headers['last-modified'] === undefined) {
      return 'the response has no freshness lifetime and no validator to revalidate it with';
    }
    return undefined;
  }

  /** One upstream exchange: a plain request, or a conditional one when `stale` is given. */
  async function exchange(request: Request, url: string, primary: string, lifetime: Lifetime, stale: Stored | undefined): Promise<Outcome> {
    const policyReq = policyRequest(request, url);
    let outgoing = request;
    if (stale) {
      const conditional = CachePolicy.fromObject(stale.meta.policy).revalidationHeaders(policyReq);
      delete conditional.host;
      outgoing = new Request(request, { headers: conditional as Record<string, string> });
    }
    let response: Response;
    try {
      response = await upstream(outgoing);
    } catch (error) {
      if (stale && staleAllowedOnError(stale)) return { stored: stale, state: 'stale', reason: `the origin failed (${(error as Error).message}): served stale` };
      throw error;
    }
    if (stale && response.status === 304) {
      await response.body?.cancel();
      const headers = { ...stale.meta.headers };
      response.headers.forEach((value, name) => {
        if (!KEPT_ON_304.has(name) && !UNSTORED_HEADERS.has(name)) headers[name] = value;
      });
      const policy = newPolicy(policyReq, stale.meta.status, headers, lifetime);
      const meta: ResponseMeta = { ...stale.meta, headers, policy: policy.toObject() };
      await store.updateMeta(stale.key, meta);
      return { stored: { ...stale, meta }, state: 'revalidated', reason: 'the stored response was stale; the origin answered 304 Not Modified' };
    }
    if (stale && response.status >= 500 && staleAllowedOnError(stale)) {
      await response.body?.cancel();
      return { stored: stale, state: 'stale', reason: `the origin answered ${response.status}: served stale` };
    }
    const headers = headerObject(response.headers, UNSTORED_HEADERS);
    const length = response.headers.get('content-length');
    if (request.method === 'HEAD' && length !== null && !response.headers.has('content-encoding')) headers['content-length'] = length;
    const policy = newPolicy(policyReq, response.status, headers, lifetime);
    const notStorable = whyNotStorable(policy, response.status, headers, policyReq);
    if (notStorable) return { response, reason: `not stored: ${notStorable}` };
    const vary = [
      ...matchHeaders,
      ...(headers.vary ?? '')
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter((h) => h !== '' && !matchHeaders.includes(h)),
    ];
    const key = keyFor(primary, vary, request);
    const meta: ResponseMeta = { url, status: response.status, statusText: response.statusText, headers, policy: policy.toObject() };
    const entry = await store.put(key, meta, bodyChunks(response));
    await addVariant(primary, vary, key);
    return { stored: { key, entry, meta }, state: 'miss', reason: stale ? 'the stored response was stale and the origin sent a new one' : 'nothing stored for this request' };
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
    const headers = new Headers(meta.headers);
    // A HEAD entry keeps the origin's length of the resource; a stored body is measured (it is kept decoded).
    if (method !== 'HEAD') headers.set('content-length', String(entry.size));
    headers.set('age', String(Math.floor(CachePolicy.fromObject(meta.policy).age())));
    headers.set('x-hotpath-cache', state);
    const nullBody = method === 'HEAD' || NULL_BODY_STATUSES.has(meta.status);
    const response = new Response(nullBody ? null : streamOf(entry.body()), { status: meta.status, statusText: meta.statusText, headers });
    record(meta.url, state, reason, state === 'miss' ? 0 : entry.size);
    return labelled(response, request.url, state);
  }

  function passThrough(response: Response, request: Request, url: string, reason: string): CachedResponse {
    const headers = new Headers(response.headers);
    if (headers.has('content-encoding')) {
      // fetch already decoded the body: the headers must describe the bytes handed on.
      headers.delete('content-encoding');
      headers.delete('content-length');
    }
    headers.set('x-hotpath-cache', 'miss');
    record(url, 'miss', reason, 0);
    const body = NULL_BODY_STATUSES.has(response.status) ? null : response.body;
    return labelled(new Response(body, { status: response.status, statusText: response.statusText, headers }), request.url, 'miss');
  }

  async function settle(request: Request, url: string, run: () => Promise<Outcome>, coalesceId: string): Promise<CachedResponse> {
    const { outcome, leader } = coalesced(coalesceId, run);
    const result = await outcome;
    if ('stored' in result) return respond(result.stored, request, leader ? result.state : result.state === 'miss' ? 'hit' : result.state, result.reason);
    // The exchange's response was not stored: only the leader may read its body; the others ask again.
    if (leader) return passThrough(result.response, request, url, result.reason);
    return passThrough(await upstream(request), request, url, result.reason);
  }

  let storeFailureWarned = false;

  /** Warns once per cache that the store fails; every affected lookup says why in explain(). */
  function storeFailed(failure: StoreFailure): string {
    if (!storeFailureWarned) {
      storeFailureWarned = true;
      process.emitWarning(`hotpath cache: the store failed (${failure.message}); requests go to the origin uncached`, { code: 'HOTPATH_CACHE_STORE_FAILED' });
    }
    return `the store failed (${failure.message}): fetched without the cache`;
  }

  async function cachedFetch(input: string | URL | Request, init?: RequestInit): Promise<CachedResponse> {
    const request = new Request(input, init);
    const url = normalize(request.url);
    const method = request.method;
    if (!methods.has(method)) {
      const response = await upstream(request);
      let reason = `method ${method} is not in methods`;
      if (UNSAFE_METHODS.has(method) && response.status < 400) {
        await deleteUrl(url).catch((error: Error) => {
          if (!(error instanceof StoreFailure)) throw error;
          reason = storeFailed(error);
        });
      }
      return passThrough(response, request, url, reason);
    }
    // Kept for the fallback: a body is sent upstream at most once through the cache path.
    const retry = method === 'POST' ? undefined : request.clone();
    try {
      return await lookup(request, url, method);
    } catch (error) {
      if (!(error instanceof StoreFailure) || !retry) unwrapStoreFailure(error);
      const reason = storeFailed(error);
      return passThrough(await upstream(retry), retry, url, reason);
    }
  }

  async function lookup(request: Request, url: string, method: string): Promise<CachedResponse> {
    const lifetime = lifetimeFor(url);
    if (lifetime === 0) return passThrough(await upstream(request), request, url, 'the expiry for this URL is 0 (do not cache)');
    let primary = `${method} ${url}`;
    if (method === 'POST') primary += ` body=${createHash('sha256').update(new Uint8Array(await request.clone().arrayBuffer())).digest('base64')}`;
    const allHeaders = JSON.stringify([...request.headers].sort());
    const coalesceId = `${primary} ${allHeaders}`;

    const key = await variantKey(primary, request);
    const entry = await store.get(key);
    if (!entry) return settle(request, url, () => exchange(request, url, primary, lifetime, undefined), coalesceId);
    const stored: Stored = { key, entry, meta: entry.meta as ResponseMeta };
    const policy = CachePolicy.fromObject(stored.meta.policy);
    const evaluation = policy.evaluateRequest(policyRequest(request, url));
    const forcedByMustRevalidate = mustRevalidate(stored.meta) && policy.stale();
    if (!evaluation.revalidation && !forcedByMustRevalidate) return respond(stored, request, 'hit', 'fresh');

    const requestNoCache = cacheControl(request.headers.get('cache-control') ?? undefined).has('no-cache') || /no-cache/.test(request.headers.get('pragma') ?? '');
    const over = staleness(policy);
    const background =
      !forcedByMustRevalidate &&
      !requestNoCache &&
      policy.stale() &&
      (evaluation.revalidation?.synchronous === false || (staleWhileRevalidate > 0 && over * 1000 <= staleWhileRevalidate));
    const revalidate = () => exchange(request, url, primary, lifetime, stored);
    if (background) {
      // Serve now; refresh once for all concurrent callers and record any failure for explain().
      coalesced(coalesceId, revalidate).outcome.then(
        (outcome) => {
          if ('response' in outcome) outcome.response.body?.cancel();
          explanations.set(url, { url, state: 'stale', reason: `background revalidation done: ${outcome.reason}` });
        },
        (error: Error) => explanations.set(url, { url, state: 'stale', reason: `background revalidation failed: ${error.message}` }),
      );
      return respond(stored, request, 'stale', `stale by ${over.toFixed(1)} s: served while revalidating in the background`);
    }
    return settle(request, url, revalidate, coalesceId);
  }

  return Object.assign(cachedFetch, {
    stats: (): CacheStats => ({ ...totals, origins: Object.fromEntries([...origins].map(([k, v]) => [k, { ...v }])) }),
    delete: (url: string | URL) => deleteUrl(normalize(String(url))).catch(unwrapStoreFailure),
    clear: async () => {
      varyIndexes.clear();
      explanations.clear();
      await store.clear().catch(unwrapStoreFailure);
    },
    explain: (url: string | URL) => explanations.get(normalize(String(url))),
    store: userStore,
  });
}
