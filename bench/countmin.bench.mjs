// Count-min updates: 1e7 short string keys from a seeded Zipf(1.1) stream over 1e6 distinct keys
// (ε = 0.001, δ = 0.01: 2719 x 5 u32 counters). Native updateMany, native update() in a loop,
// pure-TS updateMany, the npm bloom-filters CountMinSketch (timed on a prefix and scaled: it
// runs at ~0.1 M updates/s) and an exact Map count, whose heap growth is compared with the sketch.
import { CountMinSketch, backend } from 'hotpath';
import bloom from 'bloom-filters';
import { createRequire } from 'node:module';
import v8 from 'node:v8';
import vm from 'node:vm';
import { report } from './harness.mjs';

// The package's seeded Zipf generator (internal: loaded from the build, not the public API).
const { zipfKeys } = createRequire(import.meta.url)('../dist/countmin/zipf.js');

const N = 10_000_000;
const DISTINCT = 1_000_000;
const BLOOM_PREFIX = 200_000;
const EPSILON = 0.001;
const DELTA = 0.01;

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

// A full collection before each heap reading, without needing node --expose-gc.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

/** Heap bytes a Map count of the stream holds (the key strings exist already and are not counted). */
function mapBytes(stream) {
  gc();
  const before = v8.getHeapStatistics().used_heap_size;
  const counts = exactCount(stream);
  gc();
  const bytes = v8.getHeapStatistics().used_heap_size - before;
  return { bytes, distinct: counts.size };
}

export default async function run() {
  const sketchBytes = CountMinSketch.withErrorRate(EPSILON, DELTA).byteLength;
  const stream = zipfKeys(N, DISTINCT, 1.1, 2024);
  const prefix = stream.slice(0, BLOOM_PREFIX);
  const map = mapBytes(stream);
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
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
