// requests-cache parity of createCachedFetch: ignoredParameters, matchHeaders, a custom key, the
// allowable codes and methods, cacheControl: false (only configured lifetimes count), and inspection
// (entries(), deleteMatching()).
import { describe, expect, it } from 'vitest';
import { createCachedFetch, MemoryStore } from 'hotpath';

function fakeOrigin(handler: (request: Request) => Response) {
  const calls: string[] = [];
  return {
    calls,
    fetch: async (request: Request) => {
      calls.push(`${request.method} ${request.url}`);
      return handler(request);
    },
  };
}

const text = async (response: Response) => response.text();

describe('createCachedFetch: requests-cache parity', () => {
  it('ignoredParameters leave the key and the stored URL, and are still sent upstream', async () => {
    const origin = fakeOrigin((request) => new Response(request.url, { headers: { 'cache-control': 'max-age=60' } }));
    const cached = createCachedFetch({ store: new MemoryStore(), fetch: origin.fetch, ignoredParameters: ['api_key'] });
    const sent = await text(await cached('http://o.test/data?q=1&api_key=SECRET1'));
    expect(sent).toBe('http://o.test/data?q=1&api_key=SECRET1');
    const hit = await cached('http://o.test/data?api_key=OTHER&q=1');
    expect(hit.cacheState).toBe('hit');
    const listed = [];
    for await (const entry of cached.entries()) listed.push(entry);
    expect(listed.map((e) => e.url)).toEqual(['http://o.test/data?q=1']);
    expect(JSON.stringify(listed)).not.toMatch(/SECRET1/);
  });

  it('an ignored header (X-Api-Key) separates variants, is stored only as a hash and is sent as is', async () => {
    const seen: string[] = [];
    const origin = fakeOrigin((request) => {
      seen.push(request.headers.get('x-api-key') ?? '');
      const headers = { 'cache-control': 'max-age=0', etag: '"e"', vary: 'X-Api-Key' };
      if (request.headers.has('if-none-match')) return new Response(null, { status: 304, headers });
      return new Response('ok', { headers });
    });
    const store = new MemoryStore();
    const cached = createCachedFetch({ store, fetch: origin.fetch, ignoredParameters: ['X-Api-Key'] });
    const url = 'http://o.test/keyed';
    for (const key of ['SECRET-A', 'SECRET-B', 'SECRET-A']) {
      await text(await cached(url, { headers: { 'x-api-key': key } }));
    }
    // Each key has its own variant; revalidations send the real value upstream.
    expect(seen).toEqual(['SECRET-A', 'SECRET-B', 'SECRET-A']);
    const dump: string[] = [];
    for await (const key of store.keys()) dump.push(key, JSON.stringify((await store.get(key))?.meta));
    expect(dump.join(' ')).not.toMatch(/SECRET/);
    expect(dump.filter((k) => k.startsWith('GET ') && k.includes('x-api-key=sha256:'))).toHaveLength(2);
  });

  it('a custom key(request) selects the entry; Vary still applies on top', async () => {
    const origin = fakeOrigin(
      (request) => new Response(new URL(request.url).pathname, { headers: { 'cache-control': 'max-age=60' } }),
    );
    const cached = createCachedFetch({
      store: new MemoryStore(),
      fetch: origin.fetch,
      key: (request) => new URL(request.url).pathname.split('/')[1], // one entry per first path segment
    });
    expect(await text(await cached('http://o.test/users/1'))).toBe('/users/1');
    const same = await cached('http://o.test/users/2');
    expect([same.cacheState, await text(same)]).toEqual(['hit', '/users/1']);
    expect((await cached('http://o.test/teams/1')).cacheState).toBe('miss');
    const bad = createCachedFetch({ fetch: origin.fetch, key: (() => 42) as never });
    await expect(bad('http://o.test/x')).rejects.toThrow(/key\(\) must return a string, got number/);
  });

  it('cacheControl: false ignores the response headers; only ttl / urls decide', async () => {
    const origin = fakeOrigin(() => new Response('x', { headers: { 'cache-control': 'no-store', expires: '0' } }));
    const honoured = createCachedFetch({ store: new MemoryStore(), fetch: origin.fetch, ttl: 60_000 });
    await text(await honoured('http://o.test/a'));
    expect((await honoured('http://o.test/a')).cacheState).toBe('miss');
    const overridden = createCachedFetch({
      store: new MemoryStore(),
      fetch: origin.fetch,
      ttl: 60_000,
      cacheControl: false,
    });
    await text(await overridden('http://o.test/a'));
    expect((await overridden('http://o.test/a')).cacheState).toBe('hit');
  });

  it('allowableMethods: POST is opt-in and keyed on the body', async () => {
    const origin = fakeOrigin(() => new Response('answer', { headers: { 'cache-control': 'max-age=60' } }));
    const allowableMethods = ['GET', 'POST'];
    const cached = createCachedFetch({ store: new MemoryStore(), fetch: origin.fetch, allowableMethods });
    const post = (body: string) => cached('http://o.test/graphql', { method: 'POST', body });
    await text(await post('{"q":1}'));
    expect((await post('{"q":1}')).cacheState).toBe('hit');
    expect((await post('{"q":2}')).cacheState).toBe('miss');
  });

  it('entries() lists URL, method, status, size, expiry, hits; deleteMatching() takes a glob or RegExp', async () => {
    const origin = fakeOrigin(
      (request) => new Response('body of ' + request.url, { headers: { 'cache-control': 'max-age=60' } }),
    );
    const cached = createCachedFetch({ store: new MemoryStore(), fetch: origin.fetch });
    for (const url of ['http://o.test/a/1', 'http://o.test/a/2', 'http://o.test/b/1']) await text(await cached(url));
    await text(await cached('http://o.test/a/1'));
    await text(await cached('http://o.test/a/1'));
    const listed = [];
    for await (const entry of cached.entries()) listed.push(entry);
    listed.sort((x, y) => x.url.localeCompare(y.url));
    expect(listed.map(({ url, method, status, size, hits }) => ({ url, method, status, size, hits }))).toEqual([
      { url: 'http://o.test/a/1', method: 'GET', status: 200, size: 25, hits: 2 },
      { url: 'http://o.test/a/2', method: 'GET', status: 200, size: 25, hits: 0 },
      { url: 'http://o.test/b/1', method: 'GET', status: 200, size: 25, hits: 0 },
    ]);
    expect(listed[0].expires).toBeInstanceOf(Date);
    expect(listed[0].expires!.getTime()).toBeGreaterThan(Date.now() + 50_000);
    expect(await cached.deleteMatching('o.test/a/*')).toBe(2);
    expect(await cached.deleteMatching(/\/b\//)).toBe(1);
    expect((await cached('http://o.test/a/1')).cacheState).toBe('miss');
  });
});
