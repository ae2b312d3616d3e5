// Cache keys of createCachedFetch: the normalized URL (ignored parameters dropped, parameters sorted),
// the primary key (method, URL and for POST a hash of the body) and the variant key that adds the
// request headers named by Vary and matchHeaders. Also the URL globs of the `urls` option.
import { createHash } from 'node:crypto';

/** The request headers that select a stored variant of one primary key, and the variants stored. */
export interface VaryIndex {
  /** Lowercased request header names that select the variant (matchHeaders, then Vary). */
  vary: string[];
  variants: string[];
}

/** `url` without its fragment and `ignoredParameters`, with its query parameters in a stable order. */
export function normalizeUrl(url: string, ignoredParameters: readonly string[]): string {
  const u = new URL(url);
  u.hash = '';
  for (const p of ignoredParameters) u.searchParams.delete(p);
  u.searchParams.sort();
  return u.href;
}

/** The key shared by every variant of a request: method and URL, and for POST a hash of the body. */
export async function primaryKey(request: Request, url: string): Promise<string> {
  const primary = `${request.method} ${url}`;
  if (request.method !== 'POST') return primary;
  const body = new Uint8Array(await request.clone().arrayBuffer());
  return `${primary} body=${createHash('sha256').update(body).digest('base64')}`;
}

export function variantKey(primary: string, vary: readonly string[], headers: Headers): string {
  if (vary.length === 0) return primary;
  return `${primary} | ${vary.map((h) => `${h}=${headers.get(h) ?? ''}`).join(' | ')}`;
}

/**
 * Request header fields as keys and stored request data see them: those named in ignoredParameters (an
 * API key, a token) by a hash of their value, so that they still tell variants apart but are never stored.
 */
export function keyedHeaders(headers: Headers, ignored: ReadonlySet<string>): Headers {
  if (ignored.size === 0) return headers;
  const out = new Headers(headers);
  for (const name of ignored) {
    const value = out.get(name);
    if (value !== null) out.set(name, `sha256:${createHash('sha256').update(value).digest('base64')}`);
  }
  return out;
}

export const VARY_INDEX_SUFFIX = ' vary-index';
export const varyIndexKey = (primary: string) => primary + VARY_INDEX_SUFFIX;

/** The request header names a response varies on, after `matchHeaders` (lowercased, without duplicates). */
export function varyOf(matchHeaders: readonly string[], varyHeader: string | undefined): string[] {
  const named = (varyHeader ?? '').split(',').map((h) => h.trim().toLowerCase());
  return [...matchHeaders, ...named.filter((h) => h !== '' && !matchHeaders.includes(h))];
}

/** A `urls` glob (`*` = any characters; scheme optional; matched from the start) as a RegExp. */
export function globToRegExp(glob: string): RegExp {
  const withScheme = glob.includes('://') ? glob : `*://${glob}`;
  const parts = withScheme.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}`);
}
