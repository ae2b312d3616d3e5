// Count-min updates: 1e7 short string keys from a seeded Zipf(1.1) stream over 1e6 distinct keys
// (ε = 0.001, δ = 0.01: 2719 x 5 u32 counters). Native updateMany, native update() in a loop,
// pure-TS updateMany, the npm bloom-filters CountMinSketch (timed on a prefix and scaled: it
// runs at ~0.1 M updates/s) and an exact Map count, whose heap growth is compared with the sketch.
import { CountMinSketch, backend } from 'hotpath';
import bloom from 'bloom-filters';
import v8 from 'node:v8';
import { report } from './harness.mjs';

const N = 10_000_000;
const DISTINCT = 1_000_000;
const BLOOM_PREFIX = 200_000;
const EPSILON = 0.001;
const DELTA = 0.01;

function zipfStream(seed, length, n, s) {
  const cdf = new Float64Array(n);
  let acc = 0;
  for (let i = 0; i < n; i++) cdf[i] = acc += 1 / Math.pow(i + 1, s);
  const names = Array.from({ length: n }, (_, i) => `key-${i}`);
  let state = seed >>> 0;
  const out = new Array(length);
  for (let j = 0; j < length; j++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const u = ((state + 0.5) / 4294967296) * acc;
    let lo = 0, hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    out[j] = names[lo];
  }
  return out;
}

const stream = zipfStream(2024, N, DISTINCT, 1.1);
const prefix = stream.slice(0, BLOOM_PREFIX);
const native = backend === 'native' ? undefined : 'native addon not loaded';
const perSecond = (ms) => `${((N / ms) * 1e-3).toFixed(2)} M updates/s`;

function exactCount(keys) {
  const counts = new Map();
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

/** Heap bytes a Map count of the stream holds (the key strings exist already and are not counted). */
function mapBytes() {
  globalThis.gc?.();
  const before = v8.getHeapStatistics().used_heap_size;
  const counts = exactCount(stream);
  globalThis.gc?.();
  const bytes = v8.getHeapStatistics().used_heap_size - before;
  return { bytes, distinct: counts.size };
}

export default async () => {
  const sketchBytes = CountMinSketch.withErrorRate(EPSILON, DELTA).byteLength;
  const map = mapBytes();
  const result = await report(
    'countmin',
    `${N.toExponential(0)} updates, Zipf(1.1) over ${DISTINCT.toExponential(0)} string keys, epsilon=${EPSILON}, delta=${DELTA}`,
    [
      {
        label: 'bloom-filters CountMinSketch',
        run: () => {
          const s = bloom.CountMinSketch.create(EPSILON, DELTA);
          for (let i = 0; i < prefix.length; i++) s.update(prefix[i]);
        },
        scale: N / BLOOM_PREFIX,
        repeat: 3,
        unit: perSecond,
      },
      { label: 'exact Map count', run: () => exactCount(stream), repeat: 3, unit: perSecond },
      { label: 'pure-TS updateMany', run: () => CountMinSketch.withErrorRate(EPSILON, DELTA, { backend: 'js' }).updateMany(stream), repeat: 3, unit: perSecond },
      {
        label: 'native update() loop',
        run: () => {
          const s = CountMinSketch.withErrorRate(EPSILON, DELTA, { backend: 'native' });
          for (let i = 0; i < stream.length; i++) s.update(stream[i]);
        },
        repeat: 3,
        unit: perSecond,
        skip: native,
      },
      { label: 'native updateMany', run: () => CountMinSketch.withErrorRate(EPSILON, DELTA, { backend: 'native' }).updateMany(stream), repeat: 5, unit: perSecond, skip: native },
    ],
    { baseline: 'bloom-filters CountMinSketch' },
  );
  const memory = `exact Map: ${(map.bytes / 2 ** 20).toFixed(1)} MiB of heap for ${map.distinct} keys; sketch: ${(sketchBytes / 1024).toFixed(1)} KiB (${(map.bytes / sketchBytes).toFixed(0)}x less)`;
  console.log(`  memory: ${memory}`);
  return { ...result, memory: { mapBytes: map.bytes, distinct: map.distinct, sketchBytes } };
};

if (import.meta.url === `file://${process.argv[1]}`) await (await import('./countmin.bench.mjs')).default();
