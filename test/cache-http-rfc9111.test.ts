// RFC 9111 / RFC 9110 requirements of createCachedFetch, each case built from the text of the section it
// names (request → expected behaviour). Most cases use an in-process origin (the `fetch` option) so the
// exact response fields are under control; content codings use a real loopback server, because what
// fetch decodes is the point there.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCachedFetch, FileStore, MemoryStore, type CacheStore } from 'hotpath';

type Handler = (request: Request) => Response;

/** An origin behind the `fetch` option: answers with `handler` and counts requests per method and URL. */
function fakeOrigin(handler: Handler) {
  const calls: string[] = [];
  return {
    calls,
    count: (method: string, url: string) => calls.filter((c) => c === `${method} ${url}`).length,
    fetch: async (request: Request) => {
      calls.push(`${request.method} ${request.url}`);
      return handler(request);
    },
  };
}

const stores: [string, () => CacheStore][] = [
  ['memory', () => new MemoryStore()],
  ['disk', () => new FileStore({ path: fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-rfc-')) })],
];

describe.each(stores)('RFC 9111 MUST requirements (%s store)', (_name, makeStore) => {
  it('§3.1: all header fields are stored; Set-Cookie reaches the caller on a miss and on a hit', async () => {
    const origin = fakeOrigin(() => {
      const headers = new Headers({ 'cache-control': 'max-age=60' });
      headers.append('set-cookie', 'session=abc; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT');
      headers.append('set-cookie', 'theme=dark');
      return new Response('page', { headers });
    });
    const cached = createCachedFetch({ store: makeStore(), fetch: origin.fetch });
    const url = 'http://origin.test/cookies';
    const expected = ['session=abc; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT', 'theme=dark'];
    const miss = await cached(url);
    expect([miss.cacheState, miss.headers.getSetCookie()]).toEqual(['miss', expected]);
    await miss.text();
    const hit = await cached(url);
    expect([hit.cacheState, hit.headers.getSetCookie(), await hit.text()]).toEqual(['hit', expected, 'page']);
    // A shared cache may decline to store such a response, but the caller still gets its cookies.
    const shared = createCachedFetch({ store: makeStore(), fetch: origin.fetch, shared: true });
    for (let i = 0; i < 2; i++) {
      const response = await shared(url);
      expect([response.cacheState, response.headers.getSetCookie()]).toEqual(['miss', expected]);
    }
    expect(shared.explain(url)?.reason).toMatch(/sets cookies/);
  });

  it('RFC 9110 §7.6.1: fields listed in Connection, and Connection, are neither stored nor served', async () => {
    const origin = fakeOrigin(
      (request) =>
        new Response('x', {
          headers: {
            connection: 'X-Trace, keep-alive',
            'x-trace': 'hop-1',
            'keep-alive': 'timeout=5',
            'x-kept': 'end-to-end',
            'cache-control': request.url.endsWith('no-store') ? 'no-store' : 'max-age=60',
          },
        }),
    );
    const cached = createCachedFetch({ store: makeStore(), fetch: origin.fetch });
    for (const url of ['http://origin.test/hop', 'http://origin.test/hop', 'http://origin.test/hop?no-store']) {
      const response = await cached(url);
      const present = ['connection', 'x-trace', 'keep-alive', 'x-kept'].filter((h) => response.headers.has(h));
      expect(present).toEqual(['x-kept']);
    }
    expect(origin.count('GET', 'http://origin.test/hop')).toBe(1);
  });

  it('§4.4: a method of unknown safety (M-SEARCH, FOO) answered 2xx/3xx invalidates the target URI', async () => {
    let status = 200;
    const origin = fakeOrigin((request) =>
      request.method === 'GET'
        ? new Response('v', { headers: { 'cache-control': 'max-age=600' } })
        : new Response(null, { status }),
    );
    const cached = createCachedFetch({ store: makeStore(), fetch: origin.fetch });
    const url = 'http://origin.test/resource';
    const state = async () => (await cached(url)).cacheState;
    expect([await state(), await state()]).toEqual(['miss', 'hit']);
    for (const method of ['M-SEARCH', 'FOO', 'PROPPATCH']) {
      status = method === 'FOO' ? 303 : 207;
      await cached(url, { method });
      expect(await state()).toBe('miss');
      expect(await state()).toBe('hit');
    }
    // An error status does not invalidate ("non-error status code").
    status = 500;
    await cached(url, { method: 'FOO' });
    expect(await state()).toBe('hit');
    // Safe methods never invalidate.
    status = 200;
    await cached(url, { method: 'OPTIONS' });
    expect(await state()).toBe('hit');
  });

  it('§4.4: Location and Content-Location are invalidated only when they share the target origin', async () => {
    const origin = fakeOrigin((request) => {
      if (request.method === 'GET') return new Response(request.url, { headers: { 'cache-control': 'max-age=600' } });
      return new Response(null, {
        status: 201,
        headers: { location: '/items/1', 'content-location': 'http://elsewhere.test/items/1' },
      });
    });
    const cached = createCachedFetch({ store: makeStore(), fetch: origin.fetch });
    const urls = ['http://origin.test/items', 'http://origin.test/items/1', 'http://elsewhere.test/items/1'];
    for (const url of urls) await (await cached(url)).text();
    await cached('http://origin.test/items', { method: 'POST', body: 'new item' });
    const states = await Promise.all(urls.map(async (url) => (await cached(url)).cacheState));
    expect(states).toEqual(['miss', 'miss', 'hit']);
  });

  it('§4.4: a cached POST (allowableMethods: [POST]) still invalidates the stored GET of its URI', async () => {
    const origin = fakeOrigin(() => new Response('ok', { headers: { 'cache-control': 'max-age=600' } }));
    const cached = createCachedFetch({ store: makeStore(), fetch: origin.fetch, allowableMethods: ['GET', 'POST'] });
    const url = 'http://origin.test/form';
    await (await cached(url)).text();
    await (await cached(url, { method: 'POST', body: 'a=1' })).text();
    expect((await cached(url)).cacheState).toBe('miss');
  });

  it('§5.3 + RFC 9110 §5.6.7: Expires is an HTTP-date in any of three forms; anything else is expired', async () => {
    let expires = '';
    const origin = fakeOrigin(() => new Response('x', { headers: { expires } }));
    const cached = createCachedFetch({ store: makeStore(), fetch: origin.fetch });
    const cases: [string, 'hit' | 'miss'][] = [
      // Valid and in the future: fresh (IMF-fixdate, obsolete RFC 850 and asctime).
      ['Sun, 06 Nov 2095 08:49:37 GMT', 'hit'],
      ['Sunday, 06-Nov-60 08:49:37 GMT', 'hit'], // two-digit year: 2060, within 50 years
      ['Sun Nov  6 08:49:37 2095', 'hit'],
      // Valid and past: RFC 850 "94" is 1994, not 2094 (more than 50 years ahead).
      ['Sunday, 06-Nov-94 08:49:37 GMT', 'miss'],
      // Not HTTP-dates (Date.parse reads all of them as future instants): already expired.
      ['2099-01-01T00:00:00Z', 'miss'],
      ['Thu, 01 Jan 2099 00:00:00 +0000', 'miss'],
      ['thu, 01 jan 2099 00:00:00 gmt', 'miss'],
      ['Thu, 31 Apr 2099 00:00:00 GMT', 'miss'],
      ['Thu,  1 Jan 2099 00:00:00 GMT', 'miss'],
      ['January 1, 2099', 'miss'],
    ];
    for (const [value, second] of cases) {
      expires = value;
      const url = `http://origin.test/expires/${encodeURIComponent(value)}`;
      await (await cached(url)).text();
      expect([value, (await cached(url)).cacheState]).toEqual([value, second]);
    }
  });

  // RFC 9111 §5.2.2.3: "When a cache that implements the must-understand directive receives a response that
  // includes it, the cache SHOULD ignore the no-store directive if it understands and implements the status
  // code's caching requirements." §3: a cache MUST NOT store a response unless, "if the response status code is
  // 206 or 304, or the must-understand cache directive is present: the cache understands the response status
  // code". This cache implements the requirements of 200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410,
  // 414 and 501; other statuses it stores only as any explicitly fresh response.
  it('§5.2.2.3: must-understand overrides no-store for an understood status, and only for one', async () => {
    const origin = fakeOrigin((request) => {
      const [, status, cc] = new URL(request.url).pathname.split('/');
      const headers = { 'cache-control': decodeURIComponent(cc) };
      return new Response(`s${status}`, { status: Number(status), headers });
    });
    const cached = createCachedFetch({ store: makeStore(), fetch: origin.fetch });
    const secondState = async (status: number, cc: string, init?: RequestInit) => {
      const url = `http://origin.test/${status}/${encodeURIComponent(cc)}`;
      await (await cached(url, init)).arrayBuffer();
      return (await cached(url, init)).cacheState;
    };
    // Understood statuses: stored despite no-store.
    for (const status of [200, 203, 301, 404, 410, 501]) {
      expect([status, await secondState(status, 'no-store, must-understand, max-age=60')]).toEqual([status, 'hit']);
    }
    expect(await secondState(307, 'must-understand, no-store, max-age=60')).toBe('hit');
    // Without must-understand, no-store keeps its meaning.
    expect(await secondState(200, 'no-store, max-age=60')).toBe('miss');
    // Statuses this cache does not implement are not stored with must-understand, even explicitly fresh ones
    // it stores without it (RFC 9111 §3).
    for (const status of [299, 400, 500, 599]) {
      expect([status, await secondState(status, 'must-understand, max-age=60')]).toEqual([status, 'miss']);
      expect([status, await secondState(status, 'max-age=60, private')]).toEqual([status, 'hit']);
    }
    expect(cached.explain('http://origin.test/500/must-understand%2C%20max-age%3D60')?.reason).toMatch(
      /must-understand, and this cache does not implement status 500/,
    );
    // must-understand concerns the response's no-store only: the request's no-store still forbids storing.
    const noStoreRequest = { headers: { 'cache-control': 'no-store' } };
    expect(await secondState(200, 'no-store, must-understand, max-age=61', noStoreRequest)).toBe('miss');
  });

  it('RFC 9110 §5.6.7: an asctime date is GMT whatever the local time zone', async () => {
    const zone = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      // An hour ago in GMT; read as New York time it would be hours ahead.
      const past = new Date(Date.now() - 3600_000);
      const imf = /^(\w+), (\d+) (\w+) (\d+) ([\d:]+) GMT$/;
      const asctime = past
        .toUTCString()
        .replace(imf, (_, day, d, month, year, time) => `${day} ${month} ${d.replace(/^0/, ' ')} ${time} ${year}`);
      const origin = fakeOrigin(() => new Response('x', { headers: { expires: asctime, 'last-modified': asctime } }));
      const cached = createCachedFetch({ store: makeStore(), fetch: origin.fetch });
      const url = 'http://origin.test/asctime';
      await (await cached(url)).text();
      expect((await cached(url)).cacheState).toBe('miss');
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});

describe('RFC 9110 §8.4: Content-Encoding is kept unless fetch decoded the body', () => {
  let server: http.Server;
  let base: string;
  const raw = Buffer.from([0x00, 0xff, 0x10, 0x20, 0x7f]);
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const coding = new URL(req.url ?? '/', 'http://x').searchParams.get('coding') ?? '';
      const cacheControl = req.url?.includes('no-store') ? 'no-store' : 'max-age=60';
      const body = coding === 'gzip' ? zlib.gzipSync('decoded text') : raw;
      res.writeHead(200, { 'content-encoding': coding, 'content-length': body.length, 'cache-control': cacheControl });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it.each(stores)('an unknown coding (x-custom) keeps its header and raw bytes (%s)', async (_n, make) => {
    const store = make();
    const cached = createCachedFetch({ store });
    for (const url of [`${base}/?coding=x-custom`, `${base}/?coding=x-custom`, `${base}/?coding=x-custom&no-store`]) {
      const response = await cached(url);
      const bytes = Buffer.from(await response.arrayBuffer());
      expect([response.headers.get('content-encoding'), bytes.equals(raw)]).toEqual(['x-custom', true]);
      expect(response.headers.get('content-length')).toBe(String(raw.length));
    }
    const meta = (await store.get(`GET ${base}/?coding=x-custom`))?.meta as Record<string, unknown>;
    expect(meta.decodedContentEncoding).toBeUndefined();
  });

  it.each(stores)('a decoded coding (gzip) leaves the headers, recorded in the metadata (%s)', async (_n, make) => {
    const store = make();
    const cached = createCachedFetch({ store });
    for (const state of ['miss', 'hit']) {
      const response = await cached(`${base}/?coding=gzip`);
      expect([response.cacheState, response.headers.get('content-encoding'), await response.text()]).toEqual([
        state,
        null,
        'decoded text',
      ]);
    }
    const meta = (await store.get(`GET ${base}/?coding=gzip`))?.meta as Record<string, unknown>;
    expect(meta.decodedContentEncoding).toBe('gzip');
  });

  it('a HEAD response keeps its Content-Encoding (there is no body to decode)', async () => {
    const cached = createCachedFetch();
    for (const state of ['miss', 'hit']) {
      const response = await cached(`${base}/?coding=gzip`, { method: 'HEAD' });
      expect([response.cacheState, response.headers.get('content-encoding')]).toEqual([state, 'gzip']);
    }
  });
});

describe('RFC 9111 SHOULD / MAY behaviour', () => {
  const store = () => new MemoryStore();

  it('§3 + RFC 9110 §15.1: any status with explicit freshness is stored; else only heuristic ones', async () => {
    const explicit = [200, 203, 204, 299, 302, 303, 307, 400, 404, 500, 502, 503, 504, 599];
    const heuristic = [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501];
    const notHeuristic = [201, 302, 400, 403, 500, 503];
    const origin = fakeOrigin((request) => {
      const [, kind, code] = new URL(request.url).pathname.split('/');
      const status = Number(code);
      const headers: Record<string, string> =
        kind === 'explicit' ? { 'cache-control': 'max-age=600' } : { 'last-modified': 'Sun, 06 Nov 1994 08:49:37 GMT' };
      return new Response(status === 204 ? null : `status ${status}`, { status, headers });
    });
    const cached = createCachedFetch({ store: store(), fetch: origin.fetch });
    const secondState = async (url: string) => {
      await (await cached(url)).arrayBuffer();
      return (await cached(url)).cacheState;
    };
    const expectState = async (kind: string, status: number, state: string) =>
      expect([status, await secondState(`http://o.test/${kind}/${status}`)]).toEqual([status, state]);
    for (const status of explicit) await expectState('explicit', status, 'hit');
    for (const status of heuristic) await expectState('heuristic', status, 'hit');
    for (const status of notHeuristic) await expectState('heuristic', status, 'miss');
    // 206 is never stored: Range requests are not answered from the cache.
    expect(await secondState('http://o.test/explicit/206')).toBe('miss');
    expect(cached.explain('http://o.test/explicit/206')?.reason).toMatch(/partial content \(206\) is not stored/);
    // allowableCodes narrows the set.
    const narrow = createCachedFetch({ store: store(), fetch: origin.fetch, allowableCodes: [200] });
    await (await narrow('http://o.test/explicit/500')).text();
    expect((await narrow('http://o.test/explicit/500')).cacheState).toBe('miss');
  });

  it('§3.5: a shared cache stores an authenticated response with must-revalidate, public or s-maxage', async () => {
    const origin = fakeOrigin((request) => {
      const headers = { 'cache-control': new URL(request.url).searchParams.get('cc')! };
      return new Response('private data', { headers });
    });
    const cached = createCachedFetch({ store: store(), fetch: origin.fetch, shared: true });
    const cases: [string, 'hit' | 'miss'][] = [
      ['max-age=60', 'miss'],
      ['max-age=60, must-revalidate', 'hit'],
      ['max-age=60, public', 'hit'],
      ['s-maxage=60', 'hit'],
    ];
    for (const [cc, expected] of cases) {
      const url = `http://o.test/auth?cc=${encodeURIComponent(cc)}`;
      const init = { headers: { authorization: 'Bearer t' } };
      await (await cached(url, init)).text();
      expect([cc, (await cached(url, init)).cacheState]).toEqual([cc, expected]);
    }
  });

  it("§4.3.2: a client's own conditional request is answered 304 from a fresh stored response", async () => {
    const origin = fakeOrigin(
      () =>
        new Response('representation', {
          headers: { etag: 'W/"v1"', 'last-modified': 'Sun, 06 Nov 1994 08:49:37 GMT', 'cache-control': 'max-age=600' },
        }),
    );
    const cached = createCachedFetch({ store: store(), fetch: origin.fetch });
    const url = 'http://o.test/conditional';
    await (await cached(url)).text();
    const answers: [Record<string, string>, number][] = [
      [{ 'if-none-match': '"v1"' }, 304], // weak comparison: W/"v1" matches "v1"
      [{ 'if-none-match': '"v0", W/"v1"' }, 304],
      [{ 'if-none-match': '*' }, 304],
      [{ 'if-none-match': '"v2"' }, 200],
      [{ 'if-modified-since': 'Sun, 06 Nov 1994 08:49:37 GMT' }, 304],
      [{ 'if-modified-since': 'Sat, 05 Nov 1994 08:49:37 GMT' }, 200],
      [{ 'if-modified-since': 'not a date' }, 200],
      // If-None-Match takes precedence over If-Modified-Since (RFC 9110 §13.2.2).
      [{ 'if-none-match': '"v2"', 'if-modified-since': 'Sun, 06 Nov 1994 08:49:37 GMT' }, 200],
    ];
    for (const [headers, status] of answers) {
      const response = await cached(url, { headers });
      const body = await response.text();
      expect([headers, response.status, response.cacheState]).toEqual([headers, status, 'hit']);
      if (status === 304) expect([body, response.headers.get('etag')]).toEqual(['', 'W/"v1"']);
      else expect(body).toBe('representation');
    }
    expect(origin.count('GET', url)).toBe(1);
  });

  it('§5.2.1.7: only-if-cached with nothing usable stored is answered 504 without asking the origin', async () => {
    let maxAge = 600;
    const origin = fakeOrigin(() => new Response('x', { headers: { 'cache-control': `max-age=${maxAge}` } }));
    const cached = createCachedFetch({ store: store(), fetch: origin.fetch });
    const onlyIfCached = { headers: { 'cache-control': 'only-if-cached' } };
    const missing = await cached('http://o.test/absent', onlyIfCached);
    expect([missing.status, origin.calls]).toEqual([504, []]);
    await (await cached('http://o.test/present')).text();
    expect((await cached('http://o.test/present', onlyIfCached)).status).toBe(200);
    maxAge = 0;
    await (await cached('http://o.test/stale')).text();
    expect((await cached('http://o.test/stale', onlyIfCached)).status).toBe(504);
    expect(origin.count('GET', 'http://o.test/stale')).toBe(1);
  });
});
