// Caching: memoize's hit overhead against calling lru-cache's get directly, the recipe speed-up on a
// recursive Fibonacci, and HTTP cache hit latency (memory vs disk store) against an uncached request
// to a loopback server and against make-fetch-happen's disk cache (plus a local redis-server if installed).
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createCachedFetch, memoize, RedisStore } from 'hotpath';
import { LRUCache } from 'lru-cache';
import makeFetchHappen from 'make-fetch-happen';
import { report } from './harness.mjs';

const CALLS = 1_000_000;
const KEYS = 1000;

function memoizeBench() {
  const lru = new LRUCache({ max: KEYS });
  const square = (x) => x * x;
  const memoNumber = memoize(square, { max: KEYS });
  const memoPair = memoize((x, label) => x * label.length, { max: KEYS });
  const memoObject = memoize(({ x, y }) => x + y, { max: KEYS });
  const points = Array.from({ length: KEYS }, (_, i) => ({ x: i, y: -i }));
  for (let i = 0; i < KEYS; i++) {
    lru.set(String(i), square(i));
    memoNumber(i);
    memoPair(i, 'ab');
    memoObject(points[i]);
  }
  const loop = (body) => () => {
    let sum = 0;
    for (let i = 0; i < CALLS; i++) sum += body(i % KEYS);
    return sum;
  };
  return report(
    'cache-memoize-hits',
    `${CALLS.toExponential(0)} cache hits over ${KEYS} keys`,
    [
      { label: 'lru-cache get (string key made by hand)', run: loop((i) => lru.get(String(i))) },
      { label: 'memoize hit, one number argument', run: loop((i) => memoNumber(i)) },
      { label: 'memoize hit, (number, string)', run: loop((i) => memoPair(i, 'ab')) },
      { label: 'memoize hit, plain object argument', run: loop((i) => memoObject(points[i])) },
    ],
    { baseline: 'lru-cache get (string key made by hand)' },
  );
}

function fibonacciBench() {
  const N = 30;
  const plain = (n) => (n < 2 ? n : plain(n - 1) + plain(n - 2));
  return report(
    'cache-memoize-recipe',
    `recursive Fibonacci(${N}): the lru_cache recipe`,
    [
      { label: 'plain recursion', run: () => plain(N), repeat: 3 },
      {
        label: 'memoize (fresh cache per run)',
        run: () => {
          const fib = memoize((n) => (n < 2 ? n : fib(n - 1) + fib(n - 2)));
          return fib(N);
        },
      },
    ],
    { baseline: 'plain recursion' },
  );
}

/** A throwaway redis-server on a free loopback port, or null where none is installed. */
async function startRedis() {
  const binary = (process.env.PATH ?? '')
    .split(path.delimiter)
    .map((dir) => path.join(dir, 'redis-server'))
    .find((f) => fs.existsSync(f));
  if (!binary) return null;
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  for (let i = 0; i < 200; i++) {
    const up = await new Promise((resolve) =>
      net
        .connect(port, '127.0.0.1')
        .once('connect', function () {
          this.end();
          resolve(true);
        })
        .once('error', () => resolve(false)),
    );
    if (up) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill() };
}

async function httpBench() {
  const REQUESTS = 200;
  const body = Buffer.alloc(16 * 1024, 'x');
  const server = http.createServer((_req, res) =>
    res.writeHead(200, { 'cache-control': 'max-age=3600', 'content-type': 'text/plain' }).end(body),
  );
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/doc`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-bench-'));
  const memory = createCachedFetch();
  const disk = createCachedFetch({ store: { path: path.join(dir, 'hotpath') } });
  const mfh = makeFetchHappen.defaults({ cachePath: path.join(dir, 'make-fetch-happen') });
  const redis = await startRedis();
  const redisStore = redis && new RedisStore({ connection: redis.url });
  const viaRedis = redisStore && createCachedFetch({ store: redisStore });
  for (const f of [memory, disk, mfh, viaRedis]) if (f) await (await f(url)).arrayBuffer();
  const sequential = (f) => async () => {
    for (let i = 0; i < REQUESTS; i++) await (await f(url)).arrayBuffer();
  };
  const perRequest = (ms) => `${((ms * 1000) / REQUESTS).toFixed(1)} µs/request`;
  try {
    return await report(
      'cache-http',
      `${REQUESTS} sequential GETs of a 16 KiB response from a loopback server`,
      [
        { label: 'uncached fetch', run: sequential(fetch), unit: perRequest },
        { label: 'make-fetch-happen disk cache hit', run: sequential(mfh), unit: perRequest },
        { label: 'createCachedFetch disk store hit', run: sequential(disk), unit: perRequest },
        {
          label: 'createCachedFetch Redis store hit',
          run: viaRedis && sequential(viaRedis),
          unit: perRequest,
          skip: viaRedis ? undefined : 'redis-server not installed',
        },
        { label: 'createCachedFetch memory store hit', run: sequential(memory), unit: perRequest },
      ],
      { baseline: 'uncached fetch' },
    );
  } finally {
    redisStore?.close();
    redis?.stop();
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const run = async () => [await memoizeBench(), await fibonacciBench(), await httpBench()];
export default run;

if (import.meta.url === `file://${process.argv[1]}`) await run();
