// The RFC 9111 decisions of createCachedFetch, kept apart from its plumbing: which header fields are
// stored, how a configured lifetime stands in for a missing one, when a response may be stored and
// when a stale one may be served. Freshness arithmetic itself comes from http-cache-semantics.
import zlib from 'node:zlib';
import CachePolicy from 'http-cache-semantics';
import { formatHttpDate, parseHttpDate } from './http-date.js';
import { keyedHeaders } from './keys.js';

/** A lifetime in ms from ttl / urls, or undefined for the RFC 9111 heuristic. */
export type Lifetime = number | undefined;

/** What createCachedFetch stores as an entry's metadata. */
export interface ResponseMeta {
  url: string;
  /** The request method the response answered (entries written before it was recorded lack it). */
  method?: string;
  status: number;
  statusText: string;
  /** Every stored field but Set-Cookie (one value per name). */
  headers: Record<string, string>;
  /** The Set-Cookie field values, one per cookie (they cannot be joined with commas). */
  setCookie?: string[];
  /** The content codings fetch removed from the stored body (the header was dropped with them). */
  decodedContentEncoding?: string;
  policy: CachePolicy.CachePolicyObject;
}

/** RFC 9110 §15.1: statuses heuristically cacheable (206 left out: ranges are not stored). */
export const HEURISTIC_STATUSES = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]);
/**
 * Statuses http-cache-semantics computes freshness for; others with explicit freshness borrow one of them.
 * They are the statuses this cache understands in the sense of must-understand (RFC 9111 §5.2.2.3): it
 * implements their caching requirements, where others are stored only as any explicitly fresh response.
 */
const POLICY_STATUSES = new Set([...HEURISTIC_STATUSES, 302, 303, 307]);
/** Understood, not heuristically cacheable: stands in for an explicitly fresh status the library does not know. */
const EXPLICIT_ONLY_STATUS = 302;
/** RFC 9110 §9.2.1: every other method is unsafe, or of unknown safety, and invalidates (RFC 9111 §4.4). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
export const isUnsafeMethod = (method: string) => !SAFE_METHODS.has(method);
export const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);
/**
 * Fields that describe one connection, never a stored response (RFC 9110 §7.6.1; the Connection field
 * and the fields it names are removed too). Content-Length is measured from the stored body instead.
 */
const UNSTORED_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'content-length',
]);
/**
 * The content codings fetch decodes (undici: gzip, x-gzip, deflate, br; zstd where the runtime has a
 * zstd decoder). A response with any other coding in its list is handed on undecoded, header included.
 */
const FETCH_DECODED_CODINGS = new Set([
  'gzip',
  'x-gzip',
  'deflate',
  'br',
  ...('createZstdDecompress' in zlib && Number(process.versions.undici?.split('.')[0]) >= 7 ? ['zstd'] : []),
]);
/** RFC 9111 §3.2: a 304 updates the stored headers except these. */
export const KEPT_ON_304 = new Set([
  'content-length',
  'content-encoding',
  'content-type',
  'content-range',
  'transfer-encoding',
]);
/** delta-seconds cap of RFC 9111 §1.2.2, used for "never expires". */
const MAX_DELTA_SECONDS = 2147483648;

export function cacheControl(value: string | undefined | null): Map<string, string> {
  const directives = new Map<string, string>();
  for (const part of (value ?? '').split(',')) {
    const [name, arg = ''] = part.trim().split('=', 2);
    if (name) directives.set(name.toLowerCase(), arg.replace(/^"|"$/g, ''));
  }
  return directives;
}

export function seconds(text: string | undefined): number {
  const n = Number.parseInt(text ?? '', 10);
  return Number.isFinite(n) ? n : 0;
}

export function headerObject(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

/**
 * The codings fetch removed from `response`'s body, or undefined when the body is as the origin sent it.
 * undici decodes only bodies it reads (not HEAD, not null-body statuses) and only when it knows every coding.
 */
export function decodedCodings(response: Response, method: string): string | undefined {
  const value = response.headers.get('content-encoding');
  if (value === null || method === 'HEAD' || NULL_BODY_STATUSES.has(response.status)) return undefined;
  const codings = value
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '');
  return codings.length > 0 && codings.every((c) => FETCH_DECODED_CODINGS.has(c)) ? codings.join(', ') : undefined;
}

/** Field names a message's Connection header lists, lowercased (RFC 9110 §7.6.1). */
function connectionOptions(headers: Headers): Set<string> {
  return new Set((headers.get('connection') ?? '').split(',').map((name) => name.trim().toLowerCase()));
}

/** The fields of `response` a cache keeps and forwards: without hop-by-hop fields, split from Set-Cookie. */
export function forwardedFields(
  response: Response,
  method: string,
): { headers: Record<string, string>; setCookie: string[]; decoded: string | undefined } {
  const dropped = new Set([...UNSTORED_HEADERS, ...connectionOptions(response.headers)]);
  const decoded = decodedCodings(response, method);
  // The body handed on is decoded: its encoding header no longer describes it.
  if (decoded) dropped.add('content-encoding');
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (!dropped.has(name) && name !== 'set-cookie') headers[name] = value;
  });
  return { headers, setCookie: dropped.has('set-cookie') ? [] : response.headers.getSetCookie(), decoded };
}

/** A Headers object with `fields` and one Set-Cookie field per cookie. */
export function headersOf(fields: Record<string, string>, setCookie: readonly string[] = []): Headers {
  const headers = new Headers(fields);
  for (const cookie of setCookie) headers.append('set-cookie', cookie);
  return headers;
}

/**
 * Date fields as the policy reads them: parsed strictly (RFC 9110 §5.6.7) and rewritten as IMF-fixdate.
 * An invalid Expires means already expired (RFC 9111 §5.3); an invalid Date or Last-Modified is ignored.
 */
function normalizedDates(headers: Record<string, string>): Record<string, string> {
  const out = { ...headers };
  for (const name of ['expires', 'date', 'last-modified']) {
    if (out[name] === undefined) continue;
    const millis = parseHttpDate(out[name].trim());
    if (millis !== undefined) out[name] = formatHttpDate(millis);
    else if (name === 'expires') out[name] = formatHttpDate(0);
    else delete out[name];
  }
  return out;
}

/** Seconds past the freshness lifetime (negative while fresh). */
export const staleness = (policy: CachePolicy) => policy.age() - policy.maxAge();

export interface CacheRulesOptions {
  shared: boolean;
  /** Statuses that may be stored (allowableCodes), or undefined for every status RFC 9111 §3 allows. */
  allowableCodes: Set<number> | undefined;
  /** false: the response's Cache-Control, Expires and Pragma are ignored; only the configured lifetimes count. */
  honourCacheControl: boolean;
  /** Lowercased ignoredParameters: request header fields by these names are stored as hashes. */
  ignoredHeaders: ReadonlySet<string>;
  /** Most staleness in ms served when the origin fails (0 = off, Infinity = unbounded). */
  staleIfError: number;
}

/** The storage and reuse rules of one cache (private or shared, with its configured statuses). */
export class CacheRules {
  readonly #options: CacheRulesOptions;

  constructor(options: CacheRulesOptions) {
    this.#options = options;
  }

  get shared(): boolean {
    return this.#options.shared;
  }

  /** The request as the policy stores and compares it; `forUpstream`: with the real values of ignored fields. */
  policyRequest(request: Request, url: string, forUpstream = false): CachePolicy.Request {
    const fields = forUpstream ? request.headers : keyedHeaders(request.headers, this.#options.ignoredHeaders);
    const headers: CachePolicy.Headers = headerObject(fields);
    headers.host = new URL(url).host;
    return { url, method: request.method, headers };
  }

  /** The response fields that set freshness, or none when cacheControl is false. */
  #freshnessFields(headers: Record<string, string>): Record<string, string> {
    if (this.#options.honourCacheControl) return headers;
    const { 'cache-control': _cc, expires: _expires, pragma: _pragma, ...others } = headers;
    return others;
  }

  /**
   * The headers the policy sees: the lifetime from ttl/urls stands in where the response has
   * no explicit one, and must-revalidate is applied here (http-cache-semantics 4.3 revalidates even
   * fresh must-revalidate responses; RFC 9111 §5.2.2.2 only forbids serving them stale).
   */
  #policyHeaders(status: number, response: Record<string, string>, lifetime: Lifetime): CachePolicy.Headers {
    const headers = this.#freshnessFields(response);
    const cc = cacheControl(headers['cache-control']);
    cc.delete('must-revalidate');
    // RFC 9111 §5.2.2.3: a cache that understands the status ignores the no-store sent with must-understand.
    if (cc.has('must-understand') && POLICY_STATUSES.has(status)) cc.delete('no-store');
    // The configured lifetime stands in for the heuristic: for the statuses it applies to, or those allowed.
    const heuristic = this.#options.allowableCodes ?? HEURISTIC_STATUSES;
    if (!this.#explicitlyFresh(headers) && lifetime !== undefined && heuristic.has(status)) {
      const maxAge = lifetime === Infinity ? MAX_DELTA_SECONDS : Math.max(1, Math.round(lifetime / 1000));
      cc.set('max-age', String(maxAge));
    }
    const text = [...cc].map(([k, v]) => (v ? `${k}=${v}` : k)).join(', ');
    return { ...normalizedDates(headers), 'cache-control': text || undefined };
  }

  #explicitlyFresh(headers: Record<string, string>): boolean {
    const cc = cacheControl(headers['cache-control']);
    return cc.has('max-age') || (this.shared && cc.has('s-maxage')) || headers.expires !== undefined;
  }

  newPolicy(request: CachePolicy.Request, status: number, headers: Record<string, string>, lifetime: Lifetime) {
    const policyHeaders = this.#policyHeaders(status, headers, lifetime);
    headers = this.#freshnessFields(headers);
    // RFC 9111 §3: any final status with explicit freshness may be stored (299, 400, 500, 599, ...).
    const explicit = this.#explicitlyFresh(policyHeaders as Record<string, string>);
    const policyStatus = !POLICY_STATUSES.has(status) && explicit && status !== 206 ? EXPLICIT_ONLY_STATUS : status;
    // RFC 9111 §3.5: a shared cache may store an authenticated response with must-revalidate (which the
    // policy does not see, above), public or s-maxage.
    const cc = cacheControl(headers['cache-control']);
    let policyRequest = request;
    if (this.shared && cc.has('must-revalidate') && request.headers.authorization !== undefined) {
      const { authorization: _, ...others } = request.headers;
      policyRequest = { ...request, headers: others };
    }
    return new CachePolicy(policyRequest, { status: policyStatus, headers: policyHeaders }, { shared: this.shared });
  }

  mustRevalidate(meta: ResponseMeta): boolean {
    const cc = cacheControl(this.#freshnessFields(meta.headers)['cache-control']);
    return cc.has('must-revalidate') || (this.shared && cc.has('proxy-revalidate'));
  }

  staleAllowedOnError(meta: ResponseMeta): boolean {
    if (this.mustRevalidate(meta)) return false;
    const over = staleness(CachePolicy.fromObject(meta.policy));
    const directive = cacheControl(this.#freshnessFields(meta.headers)['cache-control']).get('stale-if-error');
    const { staleIfError } = this.#options;
    return (staleIfError > 0 && over * 1000 <= staleIfError) || (directive !== undefined && over <= seconds(directive));
  }

  /** Why a response may not be stored, or undefined when it may. */
  whyNotStorable(
    policy: CachePolicy,
    status: number,
    headers: Record<string, string>,
    request: CachePolicy.Request,
    setsCookies: boolean,
  ): string | undefined {
    const allowed = this.#options.allowableCodes;
    if (allowed && !allowed.has(status)) return `status ${status} is not in allowableCodes`;
    if (status === 206) return 'partial content (206) is not stored: Range requests are not answered from the cache';
    // RFC 9111 §3: with must-understand, only a status the cache understands may be stored.
    if (cacheControl(this.#freshnessFields(headers)['cache-control']).has('must-understand')) {
      if (!POLICY_STATUSES.has(status)) return `must-understand, and this cache does not implement status ${status}`;
    }
    // A shared cache would hand one user's cookies to another; RFC 9111 §3.1 lets it not store them.
    if (this.shared && setsCookies) return 'the response sets cookies (Set-Cookie) and this cache is shared';
    if (!policy.storable()) {
      const cc = cacheControl(headers['cache-control']);
      if (cc.has('no-store')) return 'the response says cache-control: no-store';
      if (cacheControl(request.headers['cache-control'] as string | undefined).has('no-store')) {
        return 'the request says cache-control: no-store';
      }
      if (headers.vary?.trim() === '*') return 'the response says Vary: *';
      if (this.shared && cc.has('private')) return 'the response is private and this cache is shared';
      return `the response is not storable under RFC 9111 §3 (${request.method} ${status})`;
    }
    if (policy.timeToLive() === 0 && headers.etag === undefined && headers['last-modified'] === undefined) {
      return 'the response has no freshness lifetime and no validator to revalidate it with';
    }
    return undefined;
  }
}

const ENTITY_TAG = /(?:W\/)?"[^"]*"/g;
const opaqueTag = (tag: string) => tag.replace(/^W\//, '');

/**
 * Whether a client's own conditional GET/HEAD is answered 304 from a stored 2xx response (RFC 9111
 * §4.3.2, evaluated as RFC 9110 §13.1.2 / §13.1.3 say): If-None-Match by weak comparison, else
 * If-Modified-Since against Last-Modified (or Date).
 */
export function notModified(request: Request, meta: ResponseMeta): boolean {
  if ((request.method !== 'GET' && request.method !== 'HEAD') || meta.status < 200 || meta.status > 299) return false;
  const ifNoneMatch = request.headers.get('if-none-match');
  if (ifNoneMatch !== null) {
    if (ifNoneMatch.trim() === '*') return true;
    const stored = meta.headers.etag?.match(ENTITY_TAG)?.[0];
    const listed = ifNoneMatch.match(ENTITY_TAG) ?? [];
    return stored !== undefined && listed.some((tag) => opaqueTag(tag) === opaqueTag(stored));
  }
  const ifModifiedSince = request.headers.get('if-modified-since');
  const since = ifModifiedSince === null ? undefined : parseHttpDate(ifModifiedSince.trim());
  const modified = parseHttpDate((meta.headers['last-modified'] ?? meta.headers.date ?? '').trim());
  return since !== undefined && modified !== undefined && modified <= since;
}

/** RFC 9110 §15.4.5: the fields a 304 carries (those a 200 would), besides Age. */
export const NOT_MODIFIED_FIELDS = [
  'cache-control',
  'content-location',
  'date',
  'etag',
  'expires',
  'last-modified',
  'vary',
];
