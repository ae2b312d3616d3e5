// Count-min updates against an exact Map count, on keys as a stream parser produces them: every timed pass
// gets freshly decoded key strings (built untimed, from the bytes of the stream), so neither the Map nor the
// sketch profits from strings hashed or flattened by an earlier pass. 2e6 Zipf(1.1) keys over 1e5 distinct,
// four key shapes: short (~10 bytes) and URL-sized (~60 characters), each ASCII and non-ASCII. Rows: the sketch's
// string path (updateMany), its byte path (updateLines: no string per key), TopK against an exact Map count
// plus a top-k selection, and the npm bloom-filters CountMinSketch (timed on a prefix and scaled). Last,
// `hotpath topk` end to end on a generated Zipf log (HOTPATH_BENCH_TOPK_MB, default 1024 MB), throughput and
// peak memory (measured by `hotpath mprof run`).
import { CountMinSketch, TopK, backend } from 'hotpath';
import bloom from 'bloom-filters';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { report } from './harness.mjs';

const require = createRequire(import.meta.url);
// The package's seeded Zipf generator (internal: loaded from the build, not the public API).
const { zipfKeys } = require('../dist/countmin/zipf.js');

const N = 2_000_000;
const DISTINCT = 100_000;
const K = 20;
const BLOOM_PREFIX = 20_000;
const EPSILON = 0.001;
const DELTA = 0.01;
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

const noNative = backend === 'native' ? undefined : 'native addon not loaded';
const perSecond = (ms) => `${((N / ms) * 1e-3).toFixed(1)} M keys/s`;

const shapes = [
  { name: 'short ASCII', prefix: 'user-id-' },
  { name: 'URL-sized', prefix: 'https://www.example.com/catalogue/products/category-7/item?sku=' },
  { name: 'short non-ASCII', prefix: 'ключ-' },
  { name: 'URL-sized non-ASCII', prefix: 'https://пример.рф/каталог/товары/категория-7/товар?артикул=' },
];

/** The stream as bytes (newline-separated) and the byte offsets of each key. */
function streamBytes(prefix) {
  const keys = zipfKeys(N, DISTINCT, 1.1, 2024, prefix);
  const bytes = Buffer.from(keys.join('\n'));
  const offsets = new Uint32Array(N + 1);
  let key = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) offsets[++key] = i + 1;
  offsets[N] = bytes.length + 1;
  return { bytes, offsets };
}

/** Fresh key strings decoded from the stream's bytes, as a parser of that stream would make them. */
function freshKeys({ bytes, offsets }) {
  const out = new Array(N);
  for (let i = 0; i < N; i++) out[i] = bytes.utf8Slice(offsets[i], offsets[i + 1] - 1);
  return out;
}

function exactCount(keys) {
  const counts = new Map();
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

/** The exact answer TopK approximates: a Map count, then the k largest counts. */
function exactTopK(keys) {
  return [...exactCount(keys)].sort((a, b) => b[1] - a[1]).slice(0, K);
}

async function keyShape(shape) {
  const stream = streamBytes(shape.prefix);
  const fresh = () => freshKeys(stream);
  const sketch = (b) => CountMinSketch.withErrorRate(EPSILON, DELTA, { backend: b });
  const bytesPerKey = (stream.bytes.length / N).toFixed(1);
  const cases = [
    { label: 'exact Map count', setup: fresh, run: (keys) => exactCount(keys) },
    { label: 'native updateMany', setup: fresh, run: (keys) => sketch('native').updateMany(keys), skip: noNative },
    { label: 'pure-TS updateMany', setup: fresh, run: (keys) => sketch('js').updateMany(keys) },
    {
      label: 'native updateLines, 1 thread',
      run: () => sketch('native').updateLines(stream.bytes, { threads: 1 }),
      skip: noNative,
    },
    {
      label: `native updateLines, ${os.availableParallelism()} threads`,
      run: () => sketch('native').updateLines(stream.bytes),
      skip: noNative,
    },
    { label: 'pure-TS updateLines', run: () => sketch('js').updateLines(stream.bytes) },
    { label: 'exact Map count + top-k', setup: fresh, run: (keys) => exactTopK(keys) },
    {
      label: 'native TopK.updateMany',
      setup: fresh,
      run: (keys) => new TopK(K, { epsilon: EPSILON, delta: DELTA }).updateMany(keys),
      skip: noNative,
    },
    {
      label: 'native TopK.updateLines',
      run: () => new TopK(K, { epsilon: EPSILON, delta: DELTA }).updateLines(stream.bytes),
      skip: noNative,
    },
    {
      label: 'pure-TS TopK.updateMany',
      setup: fresh,
      run: (keys) => new TopK(K, { epsilon: EPSILON, delta: DELTA, backend: 'js' }).updateMany(keys),
    },
  ];
  if (shape === shapes[0]) {
    cases.push({
      label: 'bloom-filters CountMinSketch',
      setup: () => fresh().slice(0, BLOOM_PREFIX),
      run: (keys) => {
        const s = bloom.CountMinSketch.create(EPSILON, DELTA);
        for (let i = 0; i < keys.length; i++) s.update(keys[i]);
      },
      scale: N / BLOOM_PREFIX,
      repeat: 1,
      warmup: 0,
    });
  }
  for (const c of cases) {
    c.repeat ??= 5;
    c.warmup ??= 1;
    c.unit = perSecond;
  }
  return report(
    `countmin-${shape.name.replace(/[^a-z]+/gi, '-').toLowerCase()}`,
    `${N.toExponential(0)} ${shape.name} keys (${bytesPerKey} bytes each with the newline), ` +
      `Zipf(1.1) over ${DISTINCT.toExponential(0)}, epsilon=${EPSILON}, delta=${DELTA}, fresh strings per pass`,
    cases,
    { baseline: 'exact Map count' },
  );
}

/** `hotpath topk` on a generated Zipf log: MB/s end to end and peak RSS through `hotpath mprof run`. */
function topkCommand() {
  const megabytes = Number(process.env.HOTPATH_BENCH_TOPK_MB ?? 1024);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-topk-bench-'));
  const log = path.join(dir, 'access.log');
  try {
    const chunk = Buffer.from(zipfKeys(200_000, 1_000_000, 1.1, 7, 'GET /api/v2/items/').join('\n') + '\n');
    const fd = fs.openSync(log, 'w');
    for (let written = 0; written < megabytes * 1e6; written += chunk.length) fs.writeSync(fd, chunk);
    fs.closeSync(fd);
    const size = fs.statSync(log).size;
    const profile = path.join(dir, 'profile.json');
    const cli = path.join(root, 'dist', 'cli', 'main.js');
    const t0 = performance.now();
    const run = spawnSync(
      process.execPath,
      [cli, 'mprof', 'run', '--interval', '50ms', '-o', profile, '--', process.execPath, cli, 'topk', log, '--json'],
      { encoding: 'utf8', maxBuffer: 1 << 26 },
    );
    const ms = performance.now() - t0;
    if (run.status !== 0) throw new Error(`hotpath topk failed: ${run.stderr}`);
    const peak = Math.max(...JSON.parse(fs.readFileSync(profile, 'utf8')).samples.map((s) => s.rss));
    const mbPerSecond = size / 1e6 / (ms / 1000);
    console.log(
      `\n## hotpath topk: ${(size / 1e6).toFixed(0)} MB Zipf log, ${mbPerSecond.toFixed(0)} MB/s end to end, ` +
        `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`,
    );
    return { bytes: size, ms, mbPerSecond, peakRssBytes: peak };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export default async function run() {
  const results = [];
  for (const shape of shapes) results.push(await keyShape(shape));
  const topk = topkCommand();
  const out = { name: 'countmin', shapes: results, topkCommand: topk };
  fs.writeFileSync(path.join(root, 'bench', 'results', 'countmin.json'), JSON.stringify(out, null, 2) + '\n');
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
