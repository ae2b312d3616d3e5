// Persistent hit counts of createCachedFetch's stores (issue 17, requests-cache's "list entries (URL, status,
// size, expires, hits)"): every store keeps them where other instances and processes see them, a hit never
// rewrites an entry or its body, a replaced entry starts again from 0, and the disk store's per-process hit
// logs stay exact with several processes, with writers SIGKILLed mid-hit and with compactions cut short.
import { execFile, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCachedFetch, FileStore, MemoryStore, RedisStore, type CacheStore } from 'hotpath';
import { startRedis, type Server } from './distributed-servers.js';
import { repoRoot } from './helpers.js';

const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-hits-'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const run = promisify(execFile);

/** An origin behind the `fetch` option: `max-age=60` with an ETag, a body naming the request's round. */
function origin() {
  let round = 0;
  return async (request: Request) => {
    if (request.headers.get('if-none-match') === '"v"') return new Response(null, { status: 304 });
    round++;
    return new Response(`body ${round}`, { headers: { 'cache-control': 'max-age=60', etag: '"v"' } });
  };
}

async function hitsOf(cached: ReturnType<typeof createCachedFetch>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for await (const entry of cached.entries()) out[entry.url] = entry.hits;
  return out;
}

let redis: Server | string;
beforeAll(async () => {
  redis = await startRedis();
  if (typeof redis === 'string') console.warn(`skipping the RedisStore hit tests: ${redis}`);
});
afterAll(async () => {
  if (typeof redis !== 'string') await redis.stop();
});

/** A store, and a second one over the same data (another instance, as another process would open it). */
type Stores = { first: CacheStore; second: CacheStore; close(): void };
const backends: [string, () => Stores | undefined][] = [
  [
    'memory',
    () => {
      const store = new MemoryStore();
      return { first: store, second: store, close() {} };
    },
  ],
  [
    'disk',
    () => {
      const dir = tmpDir();
      return { first: new FileStore({ path: dir }), second: new FileStore({ path: dir }), close() {} };
    },
  ],
  [
    'redis',
    () => {
      if (typeof redis === 'string') return undefined;
      const prefix = `hits${Math.random().toString(36).slice(2)}:`;
      const connection = `redis://127.0.0.1:${redis.port}`;
      const first = new RedisStore({ connection, prefix });
      const second = new RedisStore({ connection, prefix });
      return { first, second, close: () => (first.close(), second.close()) };
    },
  ],
];

describe.each(backends)('hit counts (%s store)', (_name, open) => {
  it('counts hits and 304s answered from the cache, seen by another instance; a new entry restarts', async (ctx) => {
    const stores = open();
    if (!stores) return ctx.skip();
    const fetchOrigin = origin();
    const cached = createCachedFetch({ store: stores.first, fetch: fetchOrigin });
    const [a, b] = ['http://origin.test/a', 'http://origin.test/b'];
    expect((await cached(a)).cacheState).toBe('miss');
    for (let i = 0; i < 3; i++) expect(await (await cached(a)).text()).toBe('body 1');
    await (await cached(b)).text();
    // The client's own conditional request, answered 304 from the stored response, is a hit too.
    expect((await cached(a, { headers: { 'if-none-match': '"v"' } })).status).toBe(304);
    expect(await hitsOf(cached)).toEqual({ [a]: 4, [b]: 0 });

    const other = createCachedFetch({ store: stores.second, fetch: fetchOrigin });
    expect(await hitsOf(other)).toEqual({ [a]: 4, [b]: 0 });
    await (await other(a)).text();
    await (await other(b)).text();
    expect(await hitsOf(cached)).toEqual({ [a]: 5, [b]: 1 });

    // A new response stored under the same key is another entry: its hits start from 0.
    await cached.delete(a);
    expect((await cached(a)).cacheState).toBe('miss');
    expect(await hitsOf(other)).toEqual({ [a]: 0, [b]: 1 });
    await cached.clear();
    expect(await hitsOf(other)).toEqual({});
    stores.close();
  });

  it('counts the hits of concurrent instances exactly', async (ctx) => {
    const stores = open();
    if (!stores) return ctx.skip();
    const fetchOrigin = origin();
    const url = 'http://origin.test/busy';
    const caches = [stores.first, stores.second].map((store) => createCachedFetch({ store, fetch: fetchOrigin }));
    await (await caches[0](url)).text();
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const response = await caches[i % 2](url);
        expect(response.cacheState).toBe('hit');
        await response.text();
      }),
    );
    expect(await hitsOf(caches[0])).toEqual({ [url]: 200 });
    expect(await hitsOf(caches[1])).toEqual({ [url]: 200 });
    stores.close();
  });
});

describe('FileStore hit counts: several processes, kills, compaction', () => {
  /** A child process that opens the store and records `count` hits of entry `key`, one line per recorded hit. */
  const hitter = (dir: string, key: string, count: number) =>
    spawn(
      process.execPath,
      [
        '-e',
        `const { FileStore } = require('hotpath');
        (async () => {
          const store = new FileStore({ path: process.argv[1] });
          const entry = await store.get(process.argv[2]);
          for (let i = 0; i < Number(process.argv[3]); i++) {
            await entry.recordHit();
            // Synchronous: a SIGKILL would lose what process.stdout still queues.
            require('fs').writeSync(1, '+');
          }
        })();`,
        dir,
        key,
        String(count),
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    );

  async function storedEntry(dir: string, key = 'k') {
    const store = new FileStore({ path: dir });
    await store.put(
      key,
      { n: 1 },
      (async function* () {
        yield 'body';
      })(),
    );
    return store;
  }

  const hitsNow = async (dir: string, key = 'k') => (await new FileStore({ path: dir }).get(key))!.hits!();
  const hitFiles = (dir: string) => fs.readdirSync(path.join(dir, 'hits')).sort();

  it('two processes hitting the same entry at once: every hit counted once, the entry and body untouched', async () => {
    const dir = tmpDir();
    await storedEntry(dir);
    const before = Object.fromEntries(
      ['entries', 'bodies'].flatMap((sub) =>
        fs.readdirSync(path.join(dir, sub)).map((name) => {
          const file = path.join(dir, sub, name);
          return [file, [fs.readFileSync(file, 'utf8'), fs.statSync(file).ino]];
        }),
      ),
    );
    const children = [hitter(dir, 'k', 500), hitter(dir, 'k', 500)];
    await Promise.all(children.map((child) => new Promise((resolve) => child.once('close', resolve))));
    expect(await hitsNow(dir)).toBe(1000);
    for (const [file, [text, ino]] of Object.entries(before)) {
      expect([fs.readFileSync(file, 'utf8'), fs.statSync(file).ino]).toEqual([text, ino]);
    }
    // The dead processes' two logs were folded into one counts file by the store opened above.
    expect(hitFiles(dir)).toEqual([expect.stringMatching(/\.counts$/)]);
    expect(await hitsNow(dir)).toBe(1000);
  });

  it('hotpath fetch --list shows the hits, also with --json', async () => {
    const dir = tmpDir();
    const fetched = createCachedFetch({ store: { path: dir }, fetch: origin() });
    await (await fetched('http://origin.test/listed')).text();
    for (let i = 0; i < 2; i++) await (await fetched('http://origin.test/listed')).text();
    await hitsOf(fetched); // waits for the hits being recorded
    const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');
    const table = await run(process.execPath, [cli, 'fetch', '--list', '--cache', dir]);
    expect(table.stdout.split('\n')[0].split(/\s+/)).toEqual(['method', 'status', 'size', 'expires', 'hits', 'url']);
    expect(table.stdout).toMatch(/^GET\s+200\s+6\s+\S+\s+2\s+http:\/\/origin\.test\/listed$/m);
    const json = await run(process.execPath, [cli, 'fetch', '--list', '--json', '--cache', dir]);
    expect(JSON.parse(json.stdout)).toMatchObject({ url: 'http://origin.test/listed', status: 200, hits: 2 });
  });

  it('a process SIGKILLed while counting hits loses at most the hit it was writing (in a loop)', async () => {
    const dir = tmpDir();
    await storedEntry(dir);
    for (let round = 0; round < 6; round++) {
      const base = await hitsNow(dir);
      const child = hitter(dir, 'k', 1_000_000);
      let reported = 0;
      child.stdout!.on('data', (chunk: Buffer) => (reported += chunk.length));
      while (reported < 20) await sleep(5);
      await sleep(Math.floor(Math.random() * 50));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('close', resolve));
      // Every reported hit is counted, and at most the one being written when the kill came.
      const counted = (await hitsNow(dir)) - base;
      expect(counted).toBeGreaterThanOrEqual(reported);
      expect(counted).toBeLessThanOrEqual(reported + 1);
    }
  });

  it("clear() deletes the hit files but a live process's log, whose old lines then count for nothing", async () => {
    const dir = tmpDir();
    const store = await storedEntry(dir);
    await (await store.get('k'))!.recordHit!();
    const live = hitter(dir, 'k', 1_000_000);
    let reported = 0;
    live.stdout!.on('data', (chunk: Buffer) => (reported += chunk.length));
    while (reported < 3) await sleep(5);
    // Stopped, not ended: its log belongs to a live writer.
    live.kill('SIGSTOP');
    try {
      const liveLog = hitFiles(dir).find((name) => name.includes(`.${live.pid}.`) && name.endsWith('.log'));
      expect(await (await store.get('k'))!.hits!()).toBeGreaterThanOrEqual(1 + reported);
      await store.clear();
      expect(hitFiles(dir)).toEqual([liveLog]);
      await storedEntry(dir);
      expect(await hitsNow(dir)).toBe(0);
    } finally {
      live.kill('SIGKILL');
      await new Promise((resolve) => live.once('close', resolve));
    }
  });

  it('a compaction killed after writing its counts file counts the files it absorbed once', async () => {
    const dir = tmpDir();
    const store = await storedEntry(dir);
    await (await store.get('k'))!.recordHit!();
    // This process's log, renamed as a dead writer's (pid 2^22 + 1 is above Linux's pid_max of 2^22).
    const [log] = hitFiles(dir);
    const host = os.hostname().replace(/[^A-Za-z0-9-]/g, '_');
    const dead = (kind: string) => `${host}.4194305.${randomUUID()}.${kind}`;
    const deadLog = dead('log');
    const line = fs.readFileSync(path.join(dir, 'hits', log), 'utf8');
    fs.writeFileSync(path.join(dir, 'hits', deadLog), line.repeat(3));
    // A dead compactor's counts file that absorbed that log, which it had not deleted yet.
    const counts = { counts: { [line.trim()]: 3 }, absorbed: [deadLog] };
    fs.writeFileSync(path.join(dir, 'hits', dead('counts')), JSON.stringify(counts));
    expect(await (await store.get('k'))!.hits!()).toBe(4);
    // The next store to open deletes the absorbed leftover, and folds the dead counts file into its own.
    expect(await hitsNow(dir)).toBe(4);
    expect(hitFiles(dir)).not.toContain(deadLog);
    expect(await hitsNow(dir)).toBe(4);
  });

  it('a long-lived process compacts its own log; compaction drops the counts of deleted entries', async () => {
    const dir = tmpDir();
    const store = await storedEntry(dir);
    const entry = (await store.get('k'))!;
    for (let i = 0; i < 13_000; i++) await entry.recordHit!();
    expect(await entry.hits!()).toBe(13_000);
    // The first 1 MiB of log (82-byte lines) was folded into a counts file; the new log holds the rest.
    const files = hitFiles(dir);
    expect(files.filter((name) => name.endsWith('.counts'))).toHaveLength(1);
    const logs = files.filter((name) => name.endsWith('.log'));
    const rotatedAt = Math.ceil(2 ** 20 / 82);
    expect(logs.map((name) => fs.statSync(path.join(dir, 'hits', name)).size)).toEqual([(13_000 - rotatedAt) * 82]);
    // Hits of an entry deleted since (by a writer now dead) are left out when its log is compacted.
    await store.put('gone', {}, (async function* () {})());
    const child = hitter(dir, 'gone', 2);
    await new Promise((resolve) => child.once('close', resolve));
    expect(await (await store.get('gone'))!.hits!()).toBe(2);
    await store.delete('gone');
    expect(await hitsNow(dir)).toBe(13_000);
    const goneId = createHash('sha256').update('gone').digest('hex');
    for (const name of hitFiles(dir)) {
      expect(fs.readFileSync(path.join(dir, 'hits', name), 'utf8')).not.toContain(goneId);
    }
  });
});
