import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCachedFetch, FileStore, MemoryStore, type CacheEntry, type CacheStore } from 'hotpath';
import { repoRoot, rng } from './helpers.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A loopback origin whose routes each test sets; counts the requests each path received. */
async function startOrigin() {
  const routes = new Map<string, Handler>();
  const counts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://x').pathname;
    counts.set(pathname, (counts.get(pathname) ?? 0) + 1);
    const handler = routes.get(pathname);
    if (handler) handler(req, res);
    else res.writeHead(404).end('no route');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    route(pathname: string, handler: Handler) {
      routes.set(pathname, handler);
      counts.delete(pathname);
      return `${base}${pathname}`;
    },
    count: (pathname: string) => counts.get(pathname) ?? 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    server,
  };
}

const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-cache-'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Moves the clock that freshness is computed from (Date only: timers and sockets keep real time). */
function advanceClock(ms: number) {
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + ms });
}

let origin: Awaited<ReturnType<typeof startOrigin>>;
beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(() => origin.close());
afterEach(() => {
  vi.useRealTimers();
});

describe('createCachedFetch: freshness (RFC 9111)', () => {
  it('serves a max-age response from the cache until it expires', async () => {
    let version = 0;
    const url = origin.route('/fresh', (_req, res) =>
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' }).end(`v${++version}`),
    );
    const cached = createCachedFetch();
    const first = await cached(url);
    expect([first.headers.get('x-hotpath-cache'), first.fromCache, first.cacheState, await first.text()]).toEqual([
      'miss',
      false,
      'miss',
      'v1',
    ]);
    const second = await cached(url);
    expect([second.headers.get('x-hotpath-cache'), second.fromCache, second.status, await second.text()]).toEqual([
      'hit',
      true,
      200,
      'v1',
    ]);
    expect(second.headers.get('content-type')).toBe('text/plain');
    expect(second.url).toBe(url);
    expect(origin.count('/fresh')).toBe(1);
    advanceClock(61_000);
    const expired = await cached(url);
    expect([expired.cacheState, await expired.text()]).toEqual(['miss', 'v2']);
    expect(origin.count('/fresh')).toBe(2);
    const stats = cached.stats();
    expect(stats).toMatchObject({ hits: 1, misses: 2, bytesSaved: 2 });
    expect(stats.origins[origin.base]).toMatchObject({ hits: 1, misses: 2, bytesSaved: 2 });
  });

  it('never stores no-store responses and explains why', async () => {
    const url = origin.route('/nostore', (_req, res) =>
      res.writeHead(200, { 'cache-control': 'no-store, max-age=60' }).end('secret'),
    );
    const cached = createCachedFetch();
    await (await cached(url)).text();
    const again = await cached(url);
    expect([again.cacheState, await again.text()]).toEqual(['miss', 'secret']);
    expect(origin.count('/nostore')).toBe(2);
    expect(cached.explain(url)?.reason).toMatch(/no-store/);
  });

  it('revalidates with If-None-Match and merges the 304 headers into the stored response', async () => {
    const url = origin.route('/etag', (req, res) => {
      if (req.headers['if-none-match'] === '"v1"')
        res.writeHead(304, { etag: '"v1"', 'x-generation': '2', 'cache-control': 'no-cache' }).end();
      else
        res
          .writeHead(200, {
            etag: '"v1"',
            'x-generation': '1',
            'cache-control': 'no-cache',
            'content-type': 'application/json',
          })
          .end('{"a":1}');
    });
    const cached = createCachedFetch();
    expect(await (await cached(url)).json()).toEqual({ a: 1 });
    const revalidated = await cached(url);
    expect([
      revalidated.cacheState,
      revalidated.headers.get('x-generation'),
      revalidated.headers.get('content-type'),
    ]).toEqual(['revalidated', '2', 'application/json']);
    expect(await revalidated.json()).toEqual({ a: 1 });
    expect(origin.count('/etag')).toBe(2);
    expect(cached.explain(url)?.reason).toMatch(/304/);
    expect(cached.stats()).toMatchObject({ revalidated: 1, bytesSaved: 7 });
  });

  it('revalidates with If-Modified-Since after a Last-Modified response expires', async () => {
    const lastModified = new Date(Date.now() - 3_600_000).toUTCString();
    const seen: (string | undefined)[] = [];
    const url = origin.route('/lastmod', (req, res) => {
      seen.push(req.headers['if-modified-since']);
      if (req.headers['if-modified-since'] === lastModified) res.writeHead(304).end();
      else res.writeHead(200, { 'last-modified': lastModified, 'cache-control': 'max-age=10' }).end('body');
    });
    const cached = createCachedFetch();
    await (await cached(url)).text();
    advanceClock(11_000);
    const again = await cached(url);
    expect([again.cacheState, await again.text()]).toEqual(['revalidated', 'body']);
    expect(seen).toEqual([undefined, lastModified]);
    // The 304 renewed the lifetime: a hit without asking the origin.
    expect((await cached(url)).cacheState).toBe('hit');
    expect(origin.count('/lastmod')).toBe(2);
  });

  it('gives heuristic freshness (10% of the Last-Modified age) to responses without a lifetime', async () => {
    const lastModified = new Date(Date.now() - 10 * 86_400_000).toUTCString();
    const url = origin.route('/heuristic', (req, res) => {
      if (req.headers['if-modified-since']) res.writeHead(304).end();
      else res.writeHead(200, { 'last-modified': lastModified }).end('old news');
    });
    const cached = createCachedFetch();
    await (await cached(url)).text();
    advanceClock(2 * 3_600_000);
    expect((await cached(url)).cacheState).toBe('hit');
    advanceClock(2 * 86_400_000);
    expect((await cached(url)).cacheState).toBe('revalidated');
    expect(origin.count('/heuristic')).toBe(2);
  });

  it('honours must-revalidate: a hit while fresh, never served stale on error', async () => {
    let fail = false;
    const url = origin.route('/must', (_req, res) => {
      if (fail) res.writeHead(503).end('down');
      else res.writeHead(200, { 'cache-control': 'max-age=10, must-revalidate', etag: '"m"' }).end('ok');
    });
    const cached = createCachedFetch({ staleIfError: true });
    await (await cached(url)).text();
    expect((await cached(url)).cacheState).toBe('hit');
    fail = true;
    advanceClock(11_000);
    const failed = await cached(url);
    expect([failed.status, failed.cacheState, await failed.text()]).toEqual([503, 'miss', 'down']);
  });

  it('applies per-URL expiry over ttl, and 0 means never cached', async () => {
    const handler: (body: string) => Handler = (body) => (_req, res) => res.writeHead(200).end(body);
    const shortUrl = origin.route('/short/a', handler('short'));
    const longUrl = origin.route('/long/a', handler('long'));
    const neverUrl = origin.route('/never/a', handler('never'));
    const cached = createCachedFetch({
      ttl: 3_600_000,
      urls: { [`${origin.base.replace('http://', '')}/short/*`]: 5_000, [`${origin.base}/never/*`]: 0 },
    });
    for (const u of [shortUrl, longUrl, neverUrl]) await (await cached(u)).text();
    expect([
      (await cached(shortUrl)).cacheState,
      (await cached(longUrl)).cacheState,
      (await cached(neverUrl)).cacheState,
    ]).toEqual(['hit', 'hit', 'miss']);
    advanceClock(6_000);
    expect([(await cached(shortUrl)).cacheState, (await cached(longUrl)).cacheState]).toEqual(['miss', 'hit']);
    expect(cached.explain(neverUrl)?.reason).toMatch(/expiry for this URL is 0/);
  });
});

describe('createCachedFetch: variants, methods, coalescing', () => {
  it('keeps one entry per Accept value when the response varies on Accept', async () => {
    const url = origin.route('/vary', (req, res) => {
      const json = req.headers.accept === 'application/json';
      res
        .writeHead(200, {
          vary: 'Accept',
          'cache-control': 'max-age=60',
          'content-type': json ? 'application/json' : 'text/plain',
        })
        .end(json ? '{"x":1}' : 'x=1');
    });
    const cached = createCachedFetch();
    const get = async (accept: string) => {
      const r = await cached(url, { headers: { accept } });
      return [r.cacheState, await r.text()];
    };
    expect(await get('application/json')).toEqual(['miss', '{"x":1}']);
    expect(await get('text/plain')).toEqual(['miss', 'x=1']);
    expect(await get('application/json')).toEqual(['hit', '{"x":1}']);
    expect(await get('text/plain')).toEqual(['hit', 'x=1']);
    expect(origin.count('/vary')).toBe(2);
  });

  it('matchHeaders keys on request headers the origin does not list in Vary', async () => {
    const url = origin.route('/lang', (req, res) =>
      res.writeHead(200, { 'cache-control': 'max-age=60' }).end(`${req.headers['accept-language']}`),
    );
    const cached = createCachedFetch({ matchHeaders: ['Accept-Language'] });
    const get = async (lang: string) => {
      const r = await cached(url, { headers: { 'accept-language': lang } });
      return [r.cacheState, await r.text()];
    };
    expect([await get('fr'), await get('de'), await get('fr')]).toEqual([
      ['miss', 'fr'],
      ['miss', 'de'],
      ['hit', 'fr'],
    ]);
  });

  it('shared caches use s-maxage and refuse private responses; private caches do the opposite', async () => {
    const sMaxage = origin.route('/smaxage', (_req, res) =>
      res.writeHead(200, { 'cache-control': 'max-age=0, s-maxage=60' }).end('s'),
    );
    const privateUrl = origin.route('/private', (_req, res) =>
      res.writeHead(200, { 'cache-control': 'private, max-age=60' }).end('p'),
    );
    const shared = createCachedFetch({ shared: true });
    const personal = createCachedFetch();
    for (const f of [shared, personal]) for (const u of [sMaxage, privateUrl]) await (await f(u)).text();
    expect([(await shared(sMaxage)).cacheState, (await shared(privateUrl)).cacheState]).toEqual(['hit', 'miss']);
    expect(shared.explain(privateUrl)?.reason).toMatch(/private and this cache is shared/);
    expect([(await personal(sMaxage)).cacheState, (await personal(privateUrl)).cacheState]).toEqual(['miss', 'hit']);
  });

  it('does not cache POST, and a successful POST invalidates the stored GET', async () => {
    const url = origin.route('/items', (req, res) =>
      res.writeHead(200, { 'cache-control': 'max-age=60' }).end(req.method),
    );
    const cached = createCachedFetch();
    await (await cached(url)).text();
    expect((await cached(url)).cacheState).toBe('hit');
    for (let i = 0; i < 2; i++) {
      const post = await cached(url, { method: 'POST', body: 'x' });
      expect([post.cacheState, await post.text()]).toEqual(['miss', 'POST']);
    }
    expect(cached.explain(url)?.reason).toMatch(/method POST is not in allowableMethods/);
    expect((await cached(url)).cacheState).toBe('miss');
    expect(origin.count('/items')).toBe(4);
  });

  it('caches POST by body when methods includes it and the response has an explicit lifetime', async () => {
    const url = origin.route('/search', (req, res) => {
      let body = '';
      req
        .on('data', (c) => (body += c))
        .on('end', () => res.writeHead(200, { 'cache-control': 'max-age=60' }).end(body.toUpperCase()));
    });
    const cached = createCachedFetch({ allowableMethods: ['GET', 'POST'] });
    const post = async (body: string) => {
      const r = await cached(url, { method: 'POST', body });
      return [r.cacheState, await r.text()];
    };
    expect(await post('a')).toEqual(['miss', 'A']);
    expect(await post('b')).toEqual(['miss', 'B']);
    expect(await post('a')).toEqual(['hit', 'A']);
  });

  it('coalesces 10 identical concurrent requests into one upstream request', async () => {
    const url = origin.route('/slow', (_req, res) =>
      setTimeout(() => res.writeHead(200, { 'cache-control': 'max-age=60' }).end('slow'), 50),
    );
    const cached = createCachedFetch();
    const responses = await Promise.all([...Array(10)].map(() => cached(url)));
    expect(await Promise.all(responses.map((r) => r.text()))).toEqual(Array(10).fill('slow'));
    expect(origin.count('/slow')).toBe(1);
    expect(responses.filter((r) => r.cacheState === 'miss').length).toBe(1);
    expect(cached.stats()).toMatchObject({ hits: 9, misses: 1 });
  });

  it('ignores listed query parameters and parameter order in the key', async () => {
    const url = origin.route('/q', (req, res) => res.writeHead(200, { 'cache-control': 'max-age=60' }).end(req.url));
    const cached = createCachedFetch({ ignoredParameters: ['api_key'] });
    await (await cached(`${url}?b=2&a=1&api_key=one`)).text();
    const again = await cached(`${url}?a=1&b=2&api_key=two`);
    expect([again.cacheState, again.url, await again.text()]).toEqual([
      'hit',
      `${url}?a=1&b=2&api_key=two`,
      '/q?b=2&a=1&api_key=one',
    ]);
    expect((await cached(`${url}?a=1&b=3`)).cacheState).toBe('miss');
  });

  it('stores a gzip-encoded body decoded, without its content-encoding', async () => {
    const text = 'compressible '.repeat(1000);
    const url = origin.route('/gzip', (_req, res) =>
      res.writeHead(200, { 'content-encoding': 'gzip', 'cache-control': 'max-age=60' }).end(zlib.gzipSync(text)),
    );
    const cached = createCachedFetch();
    expect(await (await cached(url)).text()).toBe(text);
    const hit = await cached(url);
    const uncached = await cached(url, { method: 'POST' });
    expect([uncached.headers.get('content-encoding'), await uncached.text()]).toEqual([null, text]);
    expect([
      hit.cacheState,
      hit.headers.get('content-encoding'),
      hit.headers.get('content-length'),
      await hit.text(),
    ]).toEqual(['hit', null, String(text.length), text]);
  });

  it('answers HEAD without a body and 204 without a body', async () => {
    const url = origin.route('/empty', (_req, res) => res.writeHead(204, { 'cache-control': 'max-age=60' }).end());
    const cached = createCachedFetch();
    await cached(url);
    const hit = await cached(url);
    expect([hit.status, hit.cacheState, hit.body]).toEqual([204, 'hit', null]);
    const page = origin.route('/page', (_req, res) =>
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '5' }).end('hello'),
    );
    await cached(page, { method: 'HEAD' });
    const head = await cached(page, { method: 'HEAD' });
    expect([head.cacheState, head.body, head.headers.get('content-length')]).toEqual(['hit', null, '5']);
  });

  it('delete() and clear() remove entries; explain() says why the last lookup missed', async () => {
    const url = origin.route('/del', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=60' }).end('d'));
    const cached = createCachedFetch();
    await (await cached(url)).text();
    expect(cached.explain(url)).toEqual({ url, state: 'miss', reason: 'nothing stored for this request' });
    expect(await cached.delete(url)).toBe(true);
    expect(await cached.delete(url)).toBe(false);
    expect((await cached(url)).cacheState).toBe('miss');
    await cached.clear();
    expect((await cached(url)).cacheState).toBe('miss');
    expect(cached.explain(`${origin.base}/unknown`)).toBeUndefined();
    const teapot = origin.route('/teapot', (_req, res) => res.writeHead(418).end());
    await cached(teapot);
    expect(cached.explain(teapot)?.reason).toMatch(/not storable under RFC 9111 §3 \(GET 418\)/);
  });
});

describe('createCachedFetch: stale responses', () => {
  it('serves stale when the origin is down (staleIfError), throws without it', async () => {
    const down = await startOrigin();
    const url = down.route('/x', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=10' }).end('kept'));
    const tolerant = createCachedFetch({ staleIfError: true });
    const strict = createCachedFetch();
    const bounded = createCachedFetch({ staleIfError: 5_000 });
    for (const f of [tolerant, strict, bounded]) await (await f(url)).text();
    await down.close();
    advanceClock(11_000);
    const stale = await tolerant(url);
    expect([stale.cacheState, stale.headers.get('x-hotpath-cache'), await stale.text()]).toEqual([
      'stale',
      'stale',
      'kept',
    ]);
    expect(tolerant.explain(url)?.reason).toMatch(/origin failed/);
    await expect(strict(url)).rejects.toThrow(TypeError);
    expect((await bounded(url)).cacheState).toBe('stale'); // 1 s past its lifetime: inside the 5 s window
    advanceClock(20_000);
    await expect(bounded(url)).rejects.toThrow(TypeError);
    expect((await tolerant(url)).cacheState).toBe('stale');
  });

  it("honours the response's own stale-if-error window, and 5xx counts as an error", async () => {
    let fail = false;
    const url = origin.route('/sie', (_req, res) => {
      if (fail) res.writeHead(500).end('boom');
      else res.writeHead(200, { 'cache-control': 'max-age=10, stale-if-error=60' }).end('fallback');
    });
    const cached = createCachedFetch();
    await (await cached(url)).text();
    fail = true;
    advanceClock(30_000);
    const stale = await cached(url);
    expect([stale.cacheState, await stale.text()]).toEqual(['stale', 'fallback']);
    advanceClock(120_000);
    const failed = await cached(url);
    expect([failed.status, await failed.text()]).toEqual([500, 'boom']);
  });

  it('staleWhileRevalidate serves stale at once and refreshes in the background', async () => {
    let version = 0;
    const url = origin.route('/swr', (_req, res) =>
      res.writeHead(200, { 'cache-control': 'max-age=10' }).end(`v${++version}`),
    );
    const cached = createCachedFetch({ staleWhileRevalidate: true });
    await (await cached(url)).text();
    advanceClock(20_000);
    const stale = await cached(url);
    expect([stale.cacheState, await stale.text()]).toEqual(['stale', 'v1']);
    for (let i = 0; i < 500 && !/background revalidation done/.test(cached.explain(url)?.reason ?? ''); i++)
      await sleep(5);
    const fresh = await cached(url);
    expect([fresh.cacheState, await fresh.text()]).toEqual(['hit', 'v2']);
  });
});

describe('createCachedFetch: stores', () => {
  it('persists across cache instances on the same directory, bounded by maxBytes', async () => {
    const dir = tmpDir();
    const r = rng(3);
    const bodies = new Map<string, Buffer>();
    for (const name of ['a', 'b', 'c']) {
      const body = Buffer.from(Array.from({ length: 40_000 }, () => Math.floor(r() * 256)));
      bodies.set(name, body);
      origin.route(`/file/${name}`, (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=600' }).end(body));
    }
    const first = createCachedFetch({ store: { path: dir } });
    for (const name of bodies.keys()) await (await first(`${origin.base}/file/${name}`)).arrayBuffer();
    const second = createCachedFetch({ store: { path: dir } });
    for (const [name, body] of bodies) {
      const hit = await second(`${origin.base}/file/${name}`);
      expect(hit.cacheState).toBe('hit');
      expect(Buffer.from(await hit.arrayBuffer()).equals(body)).toBe(true);
    }
    const small = new FileStore({ path: dir, maxBytes: 100_000 });
    const bounded = createCachedFetch({ store: small });
    await (await bounded(`${origin.base}/file/a`)).arrayBuffer(); // a becomes the most recent
    origin.route('/file/d', (_req, res) =>
      res.writeHead(200, { 'cache-control': 'max-age=600' }).end(Buffer.alloc(40_000, 7)),
    );
    await (await bounded(`${origin.base}/file/d`)).arrayBuffer();
    expect(small.bytes).toBeLessThanOrEqual(100_000);
    expect((await bounded(`${origin.base}/file/a`)).cacheState).toBe('hit');
    expect((await bounded(`${origin.base}/file/d`)).cacheState).toBe('hit');
  });

  it('FileStore keeps one file per distinct body, deletes bodies no entry uses once no reader holds them', async () => {
    // A body handed out stays on disk for a grace period (a reader may not have started); fake it away.
    const realSetTimeout = setTimeout;
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    const dir = tmpDir();
    const store = new FileStore({ path: dir });
    const chunks = (text: string) =>
      (async function* () {
        yield Buffer.from(text);
      })();
    const bodyFiles = async () => {
      vi.advanceTimersByTime(60_000);
      await new Promise((resolve) => realSetTimeout(resolve, 20)); // the released files' unlink
      return fs.readdirSync(path.join(dir, 'bodies')).length;
    };
    await store.put('a', { n: 1 }, chunks('same'));
    await store.put('b', { n: 2 }, chunks('same'));
    expect([await bodyFiles(), store.bytes]).toEqual([1, 4]);
    await store.put('a', { n: 3 }, chunks('other'));
    expect([await bodyFiles(), store.bytes]).toEqual([2, 9]);
    await store.put('a', { n: 4 }, chunks('newer'));
    expect([await bodyFiles(), store.bytes]).toEqual([2, 9]); // 'other' had no other user
    expect(await store.delete('b')).toBe(true);
    expect([await bodyFiles(), store.bytes]).toEqual([1, 5]);
    const entry = await store.get('a');
    expect(entry?.meta).toEqual({ n: 4 });
    let text = '';
    for await (const chunk of entry!.body()) text += Buffer.from(chunk).toString();
    expect(text).toBe('newer');
    await store.updateMeta('a', { n: 5 });
    expect((await new FileStore({ path: dir }).get('a'))?.meta).toEqual({ n: 5 });
    await store.clear();
    expect([await bodyFiles(), fs.readdirSync(path.join(dir, 'entries')).length, await store.get('a')]).toEqual([
      0,
      0,
      undefined,
    ]);
  });

  it('persists across two processes', async () => {
    const dir = tmpDir();
    const url = origin.route('/cross', (_req, res) =>
      res.writeHead(200, { 'cache-control': 'max-age=600' }).end('shared'),
    );
    const script = `const { createCachedFetch } = require('hotpath');
      createCachedFetch({ store: { path: process.argv[1] } })(process.argv[2])
        .then(async (r) => console.log(r.cacheState, await r.text()));`;
    const run = () => promisify(execFile)(process.execPath, ['-e', script, dir, url], { cwd: repoRoot });
    expect((await run()).stdout.trim()).toBe('miss shared');
    expect((await run()).stdout.trim()).toBe('hit shared');
    expect(origin.count('/cross')).toBe(1);
  });

  it('drops a damaged store file with a warning instead of crashing or serving it', async () => {
    const dir = tmpDir();
    const url = origin.route('/corrupt', (_req, res) =>
      res.writeHead(200, { 'cache-control': 'max-age=600' }).end('intact body'),
    );
    await (await createCachedFetch({ store: { path: dir } })(url)).text();
    const entries = fs.readdirSync(path.join(dir, 'entries'));
    for (const name of entries) {
      const file = path.join(dir, 'entries', name);
      const entry = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (entry.size > 0) fs.writeFileSync(file, '{"key": "truncated'); // the response entry, not the vary index
    }
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const cached = createCachedFetch({ store: { path: dir } });
      const recovered = await cached(url);
      expect([recovered.cacheState, await recovered.text()]).toEqual(['miss', 'intact body']);
      // A body file cut short is caught by its recorded size.
      const bodyDir = path.join(dir, 'bodies');
      for (const name of fs.readdirSync(bodyDir))
        if (fs.statSync(path.join(bodyDir, name)).size > 0) fs.truncateSync(path.join(bodyDir, name), 3);
      const again = await cached(url);
      expect([again.cacheState, await again.text()]).toEqual(['miss', 'intact body']);
      await sleep(10);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => (w as NodeJS.ErrnoException).code === 'HOTPATH_CACHE_CORRUPT').length).toBe(2);
  });

  it('a process killed in the middle of a large write leaves nothing that is served', async () => {
    const dir = tmpDir();
    const body = createHash('sha512').update('seed').digest();
    const half = Buffer.alloc(8 << 20, body);
    let halfSent!: () => void;
    const sent = new Promise<void>((resolve) => (halfSent = resolve));
    let interrupted = true;
    const url = origin.route('/large', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': String(2 * half.length) });
      if (!interrupted) return res.end(Buffer.concat([half, half]));
      res.write(half, () => halfSent());
    });
    const script = `const { createCachedFetch } = require('hotpath');
      createCachedFetch({ store: { path: process.argv[1] } })(process.argv[2]).then((r) => r.arrayBuffer());`;
    const child = spawn(process.execPath, ['-e', script, dir, url], { cwd: repoRoot, stdio: 'ignore' });
    await sent;
    // Wait until the child has written part of the body to its temp file, then kill it.
    const tmp = path.join(dir, 'tmp');
    const partial = () =>
      fs.existsSync(tmp) && fs.readdirSync(tmp).some((name) => fs.statSync(path.join(tmp, name)).size > 0);
    for (let i = 0; i < 500 && !partial(); i++) await sleep(10);
    expect(partial()).toBe(true);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(fs.readdirSync(path.join(dir, 'entries'))).toEqual([]);
    interrupted = false;
    const cached = createCachedFetch({ store: { path: dir } });
    const response = await cached(url);
    expect(response.cacheState).toBe('miss');
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(bytes.equals(Buffer.concat([half, half]))).toBe(true);
    expect(fs.readdirSync(path.join(dir, 'tmp'))).toEqual([]);
  });

  it('streams a 50 MB body through the disk store and serves it back intact', async () => {
    const big = Buffer.alloc(50 << 20);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    const digest = createHash('sha256').update(big).digest('hex');
    const url = origin.route('/big', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=600' }).end(big));
    const cached = createCachedFetch({ store: { path: tmpDir() } });
    for (const state of ['miss', 'hit']) {
      const response = await cached(url);
      expect(response.cacheState).toBe(state);
      const hash = createHash('sha256');
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
      expect(hash.digest('hex')).toBe(digest);
    }
  });

  it('falls back to the origin with one warning when the store fails', async () => {
    const url = origin.route('/fallback', (_req, res) =>
      res.writeHead(200, { 'cache-control': 'max-age=60' }).end('from origin'),
    );
    const notADirectory = path.join(tmpDir(), 'file');
    fs.writeFileSync(notADirectory, 'x');
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const broken = createCachedFetch({ store: { path: notADirectory } });
      for (let i = 0; i < 2; i++) {
        const response = await broken(url);
        expect([response.cacheState, await response.text()]).toEqual(['miss', 'from origin']);
      }
      expect(broken.explain(url)?.reason).toMatch(/the store failed \(.*EEXIST.*\): fetched without the cache/);
      await expect(broken.clear()).rejects.toThrow(/EEXIST/);
      await expect(broken(url, { method: 'DELETE' })).resolves.toMatchObject({ cacheState: 'miss' });
      const failingPut: CacheStore = {
        get: async () => undefined,
        put: async () => Promise.reject(new Error('disk full')),
        updateMeta: async () => {},
        delete: async () => true,
        clear: async () => {},
      };
      const full = createCachedFetch({ store: failingPut });
      expect(await (await full(url)).text()).toBe('from origin');
      expect(full.explain(url)?.reason).toMatch(/disk full/);
      await sleep(10);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => (w as NodeJS.ErrnoException).code === 'HOTPATH_CACHE_STORE_FAILED').length).toBe(2);
  });

  it('accepts a custom store object implementing CacheStore', async () => {
    const data = new Map<string, { meta: unknown; bytes: Uint8Array[] }>();
    const calls: string[] = [];
    const store: CacheStore = {
      async get(key) {
        calls.push('get');
        const d = data.get(key);
        return (
          d && {
            meta: d.meta,
            size: d.bytes.reduce((n, b) => n + b.length, 0),
            body: async function* () {
              yield* d.bytes;
            },
          }
        );
      },
      async put(key, meta, body) {
        calls.push('put');
        const bytes: Uint8Array[] = [];
        for await (const chunk of body) bytes.push(chunk);
        data.set(key, { meta, bytes });
        return (await store.get(key)) as CacheEntry;
      },
      async updateMeta(key, meta) {
        const d = data.get(key);
        if (d) d.meta = meta;
      },
      async delete(key) {
        return data.delete(key);
      },
      async clear() {
        data.clear();
      },
    };
    const url = origin.route('/custom', (_req, res) =>
      res.writeHead(200, { 'cache-control': 'max-age=60' }).end('custom'),
    );
    const cached = createCachedFetch({ store });
    await (await cached(url)).text();
    const hit = await cached(url);
    expect([hit.cacheState, await hit.text()]).toEqual(['hit', 'custom']);
    expect(calls).toContain('put');
    expect(cached.store).toBe(store);
  });

  it('bounds the memory store by maxBytes', async () => {
    const memory = new MemoryStore({ maxBytes: 50_000 });
    const cached = createCachedFetch({ store: memory });
    for (const name of ['m1', 'm2', 'm3']) {
      origin.route(`/${name}`, (_req, res) =>
        res.writeHead(200, { 'cache-control': 'max-age=60' }).end(Buffer.alloc(20_000)),
      );
      await (await cached(`${origin.base}/${name}`)).arrayBuffer();
    }
    expect(memory.bytes).toBeLessThanOrEqual(50_000);
    expect((await cached(`${origin.base}/m1`)).cacheState).toBe('miss');
    expect((await cached(`${origin.base}/m3`)).cacheState).toBe('hit');
  });
});

describe('createCachedFetch: bad options', () => {
  it('takes the old name expireAfter for ttl, warning once (HOTPATH_DEP_EXPIRE_AFTER); not both at once', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const origin = async () => new Response('no lifetime, no validator');
      // 60 s of freshness for a response that has none (without, it is not stored).
      const cases: [object, string][] = [
        [{}, 'miss'],
        [{ ttl: 60_000 }, 'hit'],
        [{ expireAfter: 60_000 }, 'hit'],
        [{ expireAfter: 60_000 }, 'hit'],
      ];
      for (const [options, state] of cases) {
        const cached = createCachedFetch({ store: new MemoryStore(), fetch: origin, ...options });
        await (await cached('http://origin.test/doc')).text();
        expect([options, (await cached('http://origin.test/doc')).cacheState]).toEqual([options, state]);
      }
      expect(() => createCachedFetch({ expireAfter: -1 })).toThrow(/expireAfter must be >= 0 ms, got -1/);
      expect(() => createCachedFetch({ ttl: 1, expireAfter: 1 })).toThrow(
        new TypeError('createCachedFetch: options ttl and expireAfter (its deprecated name) are both set'),
      );
      const deprecations = warn.mock.calls.filter(([, options]) => JSON.stringify(options).includes('HOTPATH_DEP'));
      expect(deprecations).toEqual([
        [
          'createCachedFetch: option expireAfter is deprecated, use ttl (the same milliseconds)',
          { type: 'DeprecationWarning', code: 'HOTPATH_DEP_EXPIRE_AFTER' },
        ],
      ]);
    } finally {
      warn.mockRestore();
    }
  });

  it('throws TypeError / RangeError with the option named', () => {
    expect(() => createCachedFetch({ store: 42 as unknown as 'memory' })).toThrow(
      /store must be 'memory', \{ path \} or a CacheStore object, got number/,
    );
    expect(() => createCachedFetch({ ttl: -1 })).toThrow(RangeError);
    expect(() => createCachedFetch({ ttl: '1' as unknown as number })).toThrow(
      /ttl must be a number of milliseconds, got string/,
    );
    expect(() => createCachedFetch({ allowableMethods: ['PUT'] })).toThrow(
      /allowableMethods may hold GET, HEAD and POST, got 'PUT'/,
    );
    expect(() => createCachedFetch({ allowableCodes: [99] })).toThrow(RangeError);
    expect(() => createCachedFetch({ allowableCodes: 200 as unknown as number[] })).toThrow(
      /allowableCodes must be an array of numbers/,
    );
    expect(() => createCachedFetch({ ignoredParameters: [1] as unknown as string[] })).toThrow(
      /ignoredParameters must be an array of strings/,
    );
    expect(() => createCachedFetch({ methods: ['GET'], expireAfer: 5 } as never)).toThrow(
      /^createCachedFetch: unknown options 'methods', 'expireAfer' \(accepted: store, /,
    );
    expect(() => createCachedFetch({ key: 'url' as never })).toThrow(/key must be a function, got string/);
    expect(() => createCachedFetch({ cacheControl: 1 as never })).toThrow(/cacheControl must be a boolean/);
    expect(() => new FileStore({ path: '/tmp/x', maxbytes: 5 } as never)).toThrow(
      /^FileStore: unknown option 'maxbytes' \(accepted: path, maxBytes\)$/,
    );
    expect(() => new MemoryStore({ size: 5 } as never)).toThrow(
      /^MemoryStore: unknown option 'size' \(accepted: maxBytes\)$/,
    );
    expect(() => createCachedFetch({ urls: { '*': -5 } })).toThrow(/urls\['\*'\] must be >= 0 ms, got -5/);
    expect(() => createCachedFetch({ staleIfError: 0 })).toThrow(/staleIfError must be > 0 ms/);
    expect(() =>
      createCachedFetch({ store: { get: async () => undefined, put: async () => ({}) } as unknown as CacheStore }),
    ).toThrow(/needs a updateMeta\(\) method/);
    expect(() => new FileStore({ path: '' })).toThrow(/path must be a non-empty string/);
    expect(() => new MemoryStore({ maxBytes: 0 })).toThrow(RangeError);
  });
});

describe('hotpath fetch', () => {
  // Each run gets its own per-user cache directory (the default store).
  const xdg = tmpDir();
  const cli = (args: string[]) =>
    promisify(execFile)(process.execPath, [path.join(repoRoot, 'dist', 'cli', 'main.js'), 'fetch', ...args], {
      env: { ...process.env, XDG_CACHE_HOME: xdg },
    }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  it('prints status, size and cache state, and keeps the cache in --cache DIR', async () => {
    const url = origin.route('/cli', (req, res) =>
      res
        .writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' })
        .end(`lang=${req.headers['accept-language']}`),
    );
    const dir = tmpDir();
    const output = path.join(dir, 'body.txt');
    const cacheDir = path.join(dir, 'cache');
    const first = await cli([
      url,
      '--cache',
      cacheDir,
      '--json',
      '--header',
      'Accept-Language: fr',
      '--output',
      output,
    ]);
    expect(first.stderr).toBe('');
    expect(JSON.parse(first.stdout)).toMatchObject({
      url,
      status: 200,
      size: 7,
      cache: 'miss',
      contentType: 'text/plain',
    });
    expect(fs.readFileSync(output, 'utf8')).toBe('lang=fr');
    expect(JSON.parse((await cli([url, '--cache', cacheDir, '--json'])).stdout)).toMatchObject({
      status: 200,
      size: 7,
      cache: 'hit',
    });
  });

  it('caches in $XDG_CACHE_HOME/hotpath/http by default, in memory with --no-cache-dir; --list, --delete', async () => {
    const url = origin.route('/cli-default', (_req, res) =>
      res.writeHead(200, { 'cache-control': 'max-age=60' }).end('persistent'),
    );
    expect((await cli([url])).stdout).toMatch(/^cache\s+miss$/m);
    expect((await cli([url])).stdout).toMatch(/^cache\s+hit$/m);
    expect(fs.existsSync(path.join(xdg, 'hotpath', 'http', 'hotpath-cache.json'))).toBe(true);
    expect((await cli([url, '--no-cache-dir'])).stdout).toMatch(/^cache\s+miss$/m);
    const listed = await cli(['--list']);
    // The hit of the second run, by another process, is counted.
    expect(listed.stdout).toMatch(new RegExp(`^GET\\s+200\\s+10\\s+\\d{4}-\\d\\d-\\d\\dT\\S+\\s+1\\s+${url}$`, 'm'));
    const json = (await cli(['--list', '--json'])).stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(json).toContainEqual(expect.objectContaining({ url, method: 'GET', status: 200, size: 10, hits: 1 }));
    expect((await cli(['--delete', `${origin.base}/cli-default*`])).stdout).toBe('deleted 1 stored response\n');
    expect((await cli([url])).stdout).toMatch(/^cache\s+miss$/m);
    const both = await cli([url, '--cache', xdg, '--no-cache-dir']);
    expect([both.code, both.stderr]).toEqual([
      2,
      expect.stringMatching(/--cache and --no-cache-dir exclude each other/),
    ]);
  });

  it('reports usage errors and network failures on stderr', async () => {
    const bad = await cli(['not a url']);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/not a URL/)]);
    const header = await cli([`${origin.base}/x`, '--header', 'nocolon']);
    expect([header.code, header.stderr]).toEqual([2, expect.stringMatching(/--header must look like 'Name: value'/)]);
    const closed = await startOrigin();
    await closed.close();
    const refused = await cli([`${closed.base}/`]);
    expect([refused.code, refused.stderr]).toEqual([1, expect.stringMatching(/fetch failed: .*ECONNREFUSED/)]);
  });
});
