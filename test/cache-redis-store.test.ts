// RedisStore against real redis-server processes started here: entries, revalidation and damage
// handling, and the connection options it shares with ClusterExecutor (URL with user and password,
// ioredis options, rediss:// TLS). Skipped with the reason when redis-server is not installed.
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCachedFetch, RedisStore } from 'hotpath';
import { findBinary, startRedis, type Server } from './distributed-servers.js';

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const body = (...parts: (string | Uint8Array)[]) =>
  (async function* () {
    yield* parts;
  })();

let redis: Server | string;
let url: string;
let origin: http.Server;
let base: string;
beforeAll(async () => {
  redis = await startRedis('--user', 'alice', 'on', '>s3cret', '~*', '+@all');
  if (typeof redis === 'string') console.warn(`skipping RedisStore tests: ${redis}`);
  else url = `redis://127.0.0.1:${redis.port}`;
  origin = http.createServer((req, res) => {
    const payload = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) & 255));
    if (req.headers['if-none-match'] === '"b"') res.writeHead(304, { etag: '"b"', 'x-round': '2' }).end();
    else res.writeHead(200, { etag: '"b"', 'cache-control': 'max-age=10', 'x-round': '1' }).end(payload);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
});
afterAll(async () => {
  if (typeof redis !== 'string') await redis.stop();
  await new Promise((resolve) => origin.close(resolve));
});
afterEach(() => {
  vi.useRealTimers();
});

describe('RedisStore (ioredis, a local redis-server)', () => {
  it('stores, revalidates, deletes and clears entries, binary bodies intact', async (ctx) => {
    if (typeof redis === 'string') return ctx.skip();
    const store = new RedisStore({ connection: url, prefix: 'test:' });
    const page = `${base}/redis`;
    const expected = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) & 255));
    const cached = createCachedFetch({ store });
    expect((await cached(page)).cacheState).toBe('miss');
    const other = new RedisStore({ connection: url, prefix: 'test:' });
    const second = createCachedFetch({ store: other });
    const hit = await second(page);
    expect(hit.cacheState).toBe('hit');
    expect(Buffer.from(await hit.arrayBuffer()).equals(expected)).toBe(true);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 11_000 });
    const revalidated = await second(page);
    expect([revalidated.cacheState, revalidated.headers.get('x-round')]).toEqual(['revalidated', '2']);
    expect(Buffer.from(await revalidated.arrayBuffer()).equals(expected)).toBe(true);
    expect(await second.delete(page)).toBe(true);
    expect((await second(page)).cacheState).toBe('miss');
    await second.clear();
    expect(await store.get(`GET ${page}`)).toBeUndefined();
    store.close();
    other.close();
  });

  it('accepts string chunks, drops a damaged value with a warning, and names an unreachable server', async (ctx) => {
    if (typeof redis === 'string') return ctx.skip();
    const store = new RedisStore({ connection: url, prefix: 'damaged:' });
    const stored = await store.put('k', { a: 1 }, body('hé', new Uint8Array([1, 2])));
    expect(stored.size).toBe(5);
    expect(await store.get('k')).toMatchObject({ meta: { a: 1 }, size: 5 });
    // Overwrite with a value whose meta length points past its end.
    const redisCli = path.join(path.dirname(findBinary('redis-server', ['/usr/bin'])!), 'redis-cli');
    await promisify(execFile)(redisCli, ['-u', url, 'SET', 'damaged:k', 'xx']);
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
    expect(await store.get('k')).toBeUndefined();
    expect(((await warned) as NodeJS.ErrnoException).code).toBe('HOTPATH_CACHE_CORRUPT');
    store.close();
    const port = await freePort();
    const nowhere = new RedisStore({ connection: `redis://127.0.0.1:${port}` });
    const started = Date.now();
    const unreachable = new RegExp(`cannot reach Redis at redis://127.0.0.1:${port}: .*ECONNREFUSED`);
    await expect(nowhere.get('x')).rejects.toThrow(unreachable);
    // Fails fast (no retries), and tries again on the next command.
    await expect(nowhere.put('x', {}, body('y'))).rejects.toThrow(/ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(2000);
    nowhere.close();
  });

  it('expires entries after ttl ms or ttlSeconds (deprecated, warned once); keys() skips hit counts', async (ctx) => {
    if (typeof redis === 'string') return ctx.skip();
    const redisCli = path.join(path.dirname(findBinary('redis-server', ['/usr/bin'])!), 'redis-cli');
    const pttl = async (key: string) => Number((await promisify(execFile)(redisCli, ['-u', url, 'PTTL', key])).stdout);
    const warn = vi.spyOn(process, 'emitWarning');
    try {
      const stores = [
        new RedisStore({ connection: url, prefix: 'ttl-ms:', ttl: 1500 }),
        new RedisStore({ connection: url, prefix: 'ttl-s:', ttlSeconds: 30 }),
        new RedisStore({ connection: url, prefix: 'ttl-s2:', ttlSeconds: 30 }),
        new RedisStore({ connection: url, prefix: 'ttl-none:', ttl: Infinity }),
      ];
      for (const store of stores) await (await store.put('k', {}, body('x'))).recordHit!();
      expect(await pttl('ttl-ms:k')).toBeGreaterThan(1000);
      expect(await pttl('ttl-ms:k')).toBeLessThanOrEqual(1500);
      expect(await pttl('ttl-s:k')).toBeGreaterThan(29_000);
      expect(await pttl('ttl-s:k')).toBeLessThanOrEqual(30_000);
      expect(await pttl('ttl-none:k')).toBe(-1);
      expect(await (await stores[0].get('k'))!.hits!()).toBe(1);
      const keys: string[] = [];
      for await (const key of stores[0].keys()) keys.push(key);
      expect(keys).toEqual(['k']);
      await new Promise((resolve) => setTimeout(resolve, 1600));
      expect(await stores[0].get('k')).toBeUndefined();
      const deprecations = warn.mock.calls.filter(([, options]) => JSON.stringify(options).includes('HOTPATH_DEP'));
      expect(deprecations).toEqual([
        [
          'RedisStore: option ttlSeconds is deprecated, use ttl (ttl = ttlSeconds * 1000 ms)',
          { type: 'DeprecationWarning', code: 'HOTPATH_DEP_TTL_SECONDS' },
        ],
      ]);
      for (const store of stores) store.close();
    } finally {
      warn.mockRestore();
    }
  });

  it('takes a user and password from the URL, or ioredis options, like ClusterExecutor', async (ctx) => {
    if (typeof redis === 'string') return ctx.skip();
    const port = redis.port;
    const withUser = new RedisStore({ connection: `redis://alice:s3cret@127.0.0.1:${port}/3`, prefix: 'acl:' });
    await withUser.put('k', { via: 'url' }, body('x'));
    const options = { host: '127.0.0.1', port, username: 'alice', password: 's3cret', db: 3 };
    const withOptions = new RedisStore({ connection: options, prefix: 'acl:' });
    expect((await withOptions.get('k'))?.meta).toEqual({ via: 'url' });
    // db 3, not db 0.
    const db0 = new RedisStore({ connection: url, prefix: 'acl:' });
    expect(await db0.get('k')).toBeUndefined();
    const wrong = new RedisStore({ connection: `redis://alice:wrong@127.0.0.1:${port}` });
    await expect(wrong.get('k')).rejects.toThrow(/WRONGPASS|invalid username-password/);
    for (const store of [withUser, withOptions, db0, wrong]) store.close();
  });
});

describe('RedisStore over TLS (rediss://)', () => {
  let tls: Server | string = 'not started';
  let tlsPort = 0;
  let ca = '';
  beforeAll(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-redis-tls-'));
    const openssl = spawnSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
    ]);
    if (openssl.status !== 0) {
      tls = 'openssl could not make a certificate';
      return;
    }
    ca = fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8');
    tlsPort = await freePort();
    tls = await startRedis(
      '--tls-port',
      String(tlsPort),
      '--tls-cert-file',
      path.join(dir, 'cert.pem'),
      '--tls-key-file',
      path.join(dir, 'key.pem'),
      '--tls-ca-cert-file',
      path.join(dir, 'cert.pem'),
      '--tls-auth-clients',
      'no',
    );
    if (typeof tls === 'string') console.warn(`skipping RedisStore TLS tests: ${tls}`);
  });
  afterAll(async () => {
    if (typeof tls !== 'string') await tls.stop();
  });

  it('speaks TLS for rediss:// (verifying the certificate) and for ioredis tls options', async (ctx) => {
    if (typeof tls === 'string') return ctx.skip();
    // The server's certificate is self-signed: a rediss:// URL verifies it and refuses.
    const verified = new RedisStore({ connection: `rediss://127.0.0.1:${tlsPort}` });
    await expect(verified.get('k')).rejects.toThrow(/self[- ]signed certificate/);
    verified.close();
    const trusted = new RedisStore({ connection: { host: '127.0.0.1', port: tlsPort, tls: { ca } }, prefix: 'tls:' });
    await trusted.put('k', { over: 'tls' }, body('secret'));
    const entry = await trusted.get('k');
    expect(entry?.meta).toEqual({ over: 'tls' });
    trusted.close();
  });
});

describe('RedisStore: options', () => {
  it('rejects unknown options and bad connections, naming them', () => {
    expect(() => new RedisStore({ url: 'redis://x' } as never)).toThrow(
      /^RedisStore: unknown option 'url' \(accepted: connection, prefix, ttl, ttlSeconds\)$/,
    );
    expect(() => new RedisStore({ connection: 'http://x' })).toThrow(
      /connection must be a redis:\/\/ or rediss:\/\/ URL/,
    );
    expect(() => new RedisStore({ connection: 42 as never })).toThrow(TypeError);
    expect(() => new RedisStore({ ttlSeconds: 0 })).toThrow(/ttlSeconds must be/);
    expect(() => new RedisStore({ ttl: 0 })).toThrow(RangeError);
    expect(() => new RedisStore({ ttl: 1.5 })).toThrow(/ttl must be/);
    expect(() => new RedisStore({ ttl: '1' as never })).toThrow(TypeError);
    expect(() => new RedisStore({ ttl: 1000, ttlSeconds: 1 })).toThrow(
      new TypeError('RedisStore: options ttl and ttlSeconds (its deprecated name) are both set'),
    );
  });
});
