// `npm run demo` section for threads and async I/O: parallel.describe on 1 thread vs all, on both
// backends, and mapAsync fetching from a local HTTP server one at a time vs 8 at once.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { backend, type Backend } from '../../core/loader.js';
import { mapAsync } from '../../async/index.js';
import * as parallel from '../../parallel/index.js';
import { mulberry32 } from '../../core/random.js';

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const result = await fn();
  return [result, performance.now() - t0];
}

async function describeSection(): Promise<void> {
  const threads = os.availableParallelism();
  const n = 5_000_000;
  console.log(
    `## Threads: parallel.describe over ${n.toExponential(0)} doubles in a SharedArrayBuffer, 1 vs ${threads} threads`,
  );
  const data = new Float64Array(new SharedArrayBuffer(n * 8));
  const random = mulberry32(99);
  for (let i = 0; i < n; i++) data[i] = random();
  const backends: Backend[] = backend === 'native' ? ['js', 'native'] : ['js'];
  for (const be of backends) {
    await parallel.describe(data, { backend: be }); // start the workers outside the timing
    const [, oneMs] = await timed(() => parallel.describe(data, { backend: be, threads: 1 }));
    const [result, allMs] = await timed(() => parallel.describe(data, { backend: be, threads }));
    console.log(
      `  ${be.padEnd(7)} 1 thread ${oneMs.toFixed(1).padStart(7)} ms   ${threads} threads ` +
        `${allMs.toFixed(1).padStart(7)} ms   ` +
        `${(oneMs / allMs).toFixed(2)}x  (mean=${result.mean.toFixed(5)})`,
    );
  }
  await parallel.close();
}

async function fetchSection(): Promise<void> {
  const urls = 50;
  console.log(`\n## Async I/O: mapAsync fetching ${urls} URLs from a local server (10 ms each)`);
  const server = http.createServer((req, res) => setTimeout(() => res.end(req.url), 10));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const list = Array.from({ length: urls }, (_, i) => `http://127.0.0.1:${port}/${i}`);
  const get = async (url: string) => (await fetch(url)).text();
  try {
    const [, oneMs] = await timed(() => mapAsync(list, get, { concurrency: 1 }).toArray());
    const [bodies, eightMs] = await timed(() => mapAsync(list, get, { concurrency: 8 }).toArray());
    console.log(
      `  concurrency 1 ${oneMs.toFixed(1).padStart(8)} ms   concurrency 8 ${eightMs.toFixed(1).padStart(8)} ms   ` +
        `${(oneMs / eightMs).toFixed(1)}x  (${bodies.length} bodies)`,
    );
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

export async function demoSection(): Promise<void> {
  await describeSection();
  await fetchSection();
}
