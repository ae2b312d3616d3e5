// The RFC 9111 decisions of createCachedFetch, kept apart from its plumbing: which header fields are
// stored, how a configured lifetime stands in for a missing one, when a response may be stored and
// when a stale one may be served. Freshness arithmetic itself comes from http-cache-semantics.
import CachePolicy from 'http-cache-semantics';

/** A lifetime in ms from expireAfter / urls, or undefined for the RFC 9111 heuristic. */
export type Lifetime = number | undefined;

/** What createCachedFetch stores as an entry's metadata. */
export interface ResponseMeta {
  url: string;
  status: number;
  statusText: string;
  headers: Record<string, string>;
  policy: CachePolicy.CachePolicyObject;
}

export const DEFAULT_STATUSES = [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501];
/** RFC 9111 §4.4: a successful unsafe request invalidates what is stored for its URL. */
export const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
export const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);
/** Not stored: the stored body is already decoded, and cookies are not replayed from a cache. */
export const UNSTORED_HEADERS = new Set([
  'content-encoding',
  'transfer-encoding',
  'content-length',
  'set-cookie',
  'connection',
  'keep-alive',
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

export function headerObject(headers: Headers, skip: Set<string>): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (!skip.has(name)) out[name] = value;
  });
  return out;
}

/** Seconds past the freshness lifetime (negative while fresh). */
export const staleness = (policy: CachePolicy) => policy.age() - policy.maxAge();

export interface CacheRulesOptions {
  shared: boolean;
  statuses: Set<number>;
  /** Most staleness in ms served when the origin fails (0 = off, Infinity = unbounded). */
  staleIfError: number;
}

/** The storage and reuse rules of one cache (private or shared, with its configured statuses). */
export class CacheRules {
  constructor(private readonly options: CacheRulesOptions) {}

  get shared(): boolean {
    return this.options.shared;
  }

  policyRequest(request: Request, url: string): CachePolicy.Request {
    const headers: CachePolicy.Headers = headerObject(request.headers, new Set());
    headers.host = new URL(url).host;
    return { url, method: request.method, headers };
  }

  /**
   * The headers the policy sees: the lifetime from expireAfter/urls stands in where the response has
   * no explicit one, and must-revalidate is applied here (http-cache-semantics 4.3 revalidates even
   * fresh must-revalidate responses; RFC 9111 §5.2.2.2 only forbids serving them stale).
   */
  private policyHeaders(headers: Record<string, string>, lifetime: Lifetime): CachePolicy.Headers {
    const cc = cacheControl(headers['cache-control']);
    cc.delete('must-revalidate');
    const explicit = cc.has('max-age') || (this.shared && cc.has('s-maxage')) || headers.expires !== undefined;
    if (!explicit && lifetime !== undefined) {
      const maxAge = lifetime === Infinity ? MAX_DELTA_SECONDS : Math.max(1, Math.round(lifetime / 1000));
      cc.set('max-age', String(maxAge));
    }
    const text = [...cc].map(([k, v]) => (v ? `${k}=${v}` : k)).join(', ');
    return { ...headers, 'cache-control': text || undefined };
  }

  newPolicy(request: CachePolicy.Request, status: number, headers: Record<string, string>, lifetime: Lifetime) {
    return new CachePolicy(request, { status, headers: this.policyHeaders(headers, lifetime) }, { shared: this.shared });
  }

  mustRevalidate(meta: ResponseMeta): boolean {
    const cc = cacheControl(meta.headers['cache-control']);
    return cc.has('must-revalidate') || (this.shared && cc.has('proxy-revalidate'));
  }

  staleAllowedOnError(meta: ResponseMeta): boolean {
    if (this.mustRevalidate(meta)) return false;
    const over = staleness(CachePolicy.fromObject(meta.policy));
    const directive = cacheControl(meta.headers['cache-control']).get('stale-if-error');
    const { staleIfError } = this.options;
    return (staleIfError > 0 && over * 1000 <= staleIfError) || (directive !== undefined && over <= seconds(directive));
  }

  /** Why a response may not be stored, or undefined when it may. */
  whyNotStorable(
    policy: CachePolicy,
    status: number,
    headers: Record<string, string>,
    request: CachePolicy.Request,
  ): string | undefined {
    if (!this.options.statuses.has(status)) return `status ${status} is not in statuses`;
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
