// `npm run demo` section: count-min updates and heavy hitters on a generated Zipf stream, native
// against pure-TS, with the memory an exact count would take.
import { performance } from 'node:perf_hooks';
import { backend } from '../../core/loader.js';
import { CountMinSketch } from '../../countmin/sketch.js';
import { TopK } from '../../countmin/topk.js';
import { zipfKeys } from '../../countmin/zipf.js';

const N = 2_000_000;
const DISTINCT = 200_000;

function timed<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const result = fn();
  return [result, performance.now() - t0];
}

const rate = (ms: number) => `${((N / ms) * 1e-3).toFixed(2).padStart(6)} M updates/s`;

export async function demoSection(): Promise<void> {
  console.log(
    `\n## Count-min sketch: ${N.toExponential(0)} Zipf(1.1) keys over ${DISTINCT.toExponential(0)} distinct (epsilon ` +
      `0.001, delta 0.01)`,
  );
  const stream = zipfKeys(N, DISTINCT, 1.1, 7);
  const make = (be: 'native' | 'js') => CountMinSketch.withErrorRate(0.001, 0.01, { backend: be });
  const [js, jsMs] = timed(() => make('js').updateMany(stream));
  console.log(`  pure-TS updateMany  ${jsMs.toFixed(1).padStart(8)} ms  ${rate(jsMs)}`);
  if (backend === 'native') {
    const [native, nativeMs] = timed(() => make('native').updateMany(stream));
    console.log(
      `  native updateMany   ${nativeMs.toFixed(1).padStart(8)} ms  ${rate(nativeMs)}  ` +
        `(${(jsMs / nativeMs).toFixed(1)}x pure-TS)`,
    );
    console.log(`  counters byte-identical across backends: ${native.toBuffer().equals(js.toBuffer())}`);
  } else {
    console.log('  native backend not loaded: run `npx hotpath doctor` to see why');
  }
  const [exact, mapMs] = timed(() => {
    const counts = new Map<string, number>();
    for (const k of stream) counts.set(k, (counts.get(k) ?? 0) + 1);
    return counts;
  });
  console.log(
    `  exact Map count     ${mapMs.toFixed(1).padStart(8)} ms  ${rate(mapMs)}  (${exact.size} keys; the sketch is ` +
      `${(js.byteLength / 1024).toFixed(0)} KiB)`,
  );

  const top = new TopK(5, { epsilon: 0.001, delta: 0.01 }).updateMany(stream);
  console.log(`  top 5 (true count, estimate, lower bound; error bound ${top.sketch.errorBound.toFixed(0)}):`);
  for (const e of top.list()) {
    console.log(
      `    ${String(e.key).padEnd(8)} ${String(exact.get(e.key as string)).padStart(8)} ` +
        `${String(e.estimate).padStart(8)} ${Math.ceil(e.lowerBound).toString().padStart(8)}`,
    );
  }
}
