// Accounting of createCachedFetch: hit/miss/revalidated/stale counts and bytes saved, in total and per
// origin, plus the reason of the last lookup of each URL (explain()).
import { LRUCache } from 'lru-cache';

export type CacheState = 'hit' | 'miss' | 'revalidated' | 'stale';

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

function emptyStats(): OriginStats {
  return { hits: 0, misses: 0, revalidated: 0, stale: 0, bytesSaved: 0 };
}

const COUNTER: Record<CacheState, keyof Omit<OriginStats, 'bytesSaved'>> = {
  hit: 'hits',
  miss: 'misses',
  revalidated: 'revalidated',
  stale: 'stale',
};

export class CacheAccounting {
  readonly #totals = emptyStats();
  readonly #origins = new Map<string, OriginStats>();
  /** The last lookup of each recently used URL. */
  readonly #explanations = new LRUCache<string, CacheExplanation>({ max: 1000 });

  record(url: string, state: CacheState, reason: string, bytesSaved: number): void {
    const origin = new URL(url).origin;
    let perOrigin = this.#origins.get(origin);
    if (!perOrigin) this.#origins.set(origin, (perOrigin = emptyStats()));
    for (const s of [this.#totals, perOrigin]) {
      s[COUNTER[state]]++;
      s.bytesSaved += bytesSaved;
    }
    this.explain(url, state, reason);
  }

  /** Records why `url` went as it did without counting a lookup (background work). */
  explain(url: string, state: CacheState, reason: string): void {
    this.#explanations.set(url, { url, state, reason });
  }

  explanation(url: string): CacheExplanation | undefined {
    return this.#explanations.get(url);
  }

  forgetExplanations(): void {
    this.#explanations.clear();
  }

  snapshot(): CacheStats {
    return { ...this.#totals, origins: Object.fromEntries([...this.#origins].map(([k, v]) => [k, { ...v }])) };
  }
}
