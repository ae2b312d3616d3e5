// `npm run demo` section: memoize on the Fibonacci recipe, then the HTTP cache in front of a slow
// loopback server (memory and disk stores, a 304 revalidation).
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createCachedFetch } from '../../cache/http/cached-fetch.js';
import { memoize } from '../../cache/memoize/memoize.js';

async function timed<T>(fn: () => Promise<T> | T): Promise<[T, number]> {
  const t0 = performance.now();
  const result = await fn();
  return [result, performance.now() - t0];
}

const ORIGIN_DELAY_MS = 30;

function slowOrigin(): http.Server {
  return http.createServer((req, res) => {
    setTimeout(() => {
      if (req.url === '/report' && req.headers['if-none-match'] === '"r1"')
        return res.writeHead(304, { etag: '"r1"' }).end();
      const headers =
        req.url === '/report' ? { etag: '"r1"', 'cache-control': 'no-cache' } : { 'cache-control': 'max-age=60' };
      res
        .writeHead(200, { ...headers, 'content-type': 'application/json' })
        .end(JSON.stringify({ path: req.url, rows: Array.from({ length: 2000 }, (_, i) => i) }));
    }, ORIGIN_DELAY_MS);
  });
}

export async function demoSection(): Promise<void> {
  console.log('## Caching: memoize and an RFC 9111 HTTP cache');
  const N = 35;
  const plain = (n: number): number => (n < 2 ? n : plain(n - 1) + plain(n - 2));
  const fib: (n: number) => number = memoize((n: number) => (n < 2 ? n : fib(n - 1) + fib(n - 2)));
  const [slow, slowMs] = await timed(() => plain(N));
  const [fast, fastMs] = await timed(() => fib(N));
  console.log(`  fib(${N}) plain     ${slowMs.toFixed(2).padStart(8)} ms  = ${slow}`);
  console.log(
    `  fib(${N}) memoized  ${fastMs.toFixed(2).padStart(8)} ms  = ${fast}  (${(slowMs / fastMs).toFixed(0)}x)`,
  );

  const server = slowOrigin();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-demo-'));
  try {
    for (const [label, options] of [
      ['memory', {}],
      ['disk  ', { store: { path: dir } }],
    ] as const) {
      const cached = createCachedFetch(options);
      for (let i = 0; i < 2; i++) {
        const [response, ms] = await timed(() => cached(`${base}/data`));
        const bytes = (await response.arrayBuffer()).byteLength;
        console.log(
          `  ${label} store   ${ms.toFixed(2).padStart(8)} ms  ${response.cacheState.padEnd(11)} ${bytes} bytes ` +
            `(origin answers in ${ORIGIN_DELAY_MS} ms)`,
        );
      }
    }
    const cached = createCachedFetch();
    await (await cached(`${base}/report`)).arrayBuffer();
    const revalidated = await cached(`${base}/report`);
    await revalidated.arrayBuffer();
    console.log(
      `  no-cache + ETag: second request ${revalidated.cacheState} (${cached.explain(`${base}/report`)?.reason})`,
    );
    const stats = cached.stats();
    console.log(
      `  stats: ${stats.hits} hits, ${stats.misses} misses, ${stats.revalidated} revalidated, ${stats.bytesSaved} ` +
        `bytes saved`,
    );
  } finally {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
