// The asyncio recipe: fetch 100 URLs from a local node:http server answering after 10 ms, one at
// a time vs mapAsync with concurrency 8 vs p-map (the npm peer) with the same cap.
import http from 'node:http';
import { gather, mapAsync } from 'hotpath';
import pMap from 'p-map';
import { report } from './harness.mjs';

const URLS = 100;
const LATENCY_MS = 10;
const CONCURRENCY = 8;

export default async function run() {
  const server = http.createServer((req, res) => setTimeout(() => res.end(req.url), LATENCY_MS));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const urls = Array.from({ length: URLS }, (_, i) => `http://127.0.0.1:${server.address().port}/${i}`);
  const get = async (url) => (await fetch(url)).text();
  // Warm fetch (undici) and the JIT first, or whichever case runs first pays for it.
  for (let i = 0; i < 10; i++) await pMap(urls, get, { concurrency: CONCURRENCY });
  try {
    return await report(
      'async',
      `fetch ${URLS} URLs from a local server (${LATENCY_MS} ms latency each)`,
      [
        {
          label: `mapAsync, concurrency ${CONCURRENCY}`,
          run: () => mapAsync(urls, get, { concurrency: CONCURRENCY }).toArray(),
        },
        { label: `p-map, concurrency ${CONCURRENCY}`, run: () => pMap(urls, get, { concurrency: CONCURRENCY }) },
        {
          label: `gather, concurrency ${CONCURRENCY}`,
          run: () =>
            gather(
              urls.map((url) => () => get(url)),
              { concurrency: CONCURRENCY },
            ),
        },
        // Last: its seconds-long runs let the client's idle keep-alive connections expire.
        {
          label: 'sequential await loop',
          run: async () => {
            for (const url of urls) await get(url);
          },
          repeat: 3,
        },
      ],
      { baseline: 'sequential await loop' },
    );
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
