// `npm run demo`: a tour of every capability on generated data, timing native against pure-TS.
import { performance } from 'node:perf_hooks';
import { backend } from '../../core/loader.js';
import { demoSection as memoryDemo } from './memprof.js';
import { demoSection as countminSection } from './countmin.js';
import { demoSection as cacheSection } from './cache.js';
import { describe, describeAsync } from '../../moments/index.js';
import { demoSection as concurrencySection } from './pool.js';
import { demoSection as expressionsSection } from './expr.js';
import { demoSection as distributedSection } from './distributed.js';
import { demoSection as openclSection } from './opencl.js';
import { mulberry32 } from '../../core/random.js';

function time<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const result = fn();
  return [result, performance.now() - t0];
}

function seededNormal(n: number, seed: number): Float64Array {
  const random = mulberry32(seed);
  const uniform = () => 1 - random(); // (0, 1]: log() stays finite
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = 1e9 + Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return out;
}

async function momentsSection(): Promise<void> {
  console.log('## Streaming moments: describe() over 5e6 doubles (1e9 + N(0, 1))');
  const data = seededNormal(5_000_000, 42);
  const [js, jsMs] = time(() => describe(data, { backend: 'js' }));
  console.log(
    `  pure-TS   ${jsMs.toFixed(1).padStart(8)} ms  mean=${js.mean.toFixed(4)} variance=${js.variance.toFixed(6)}`,
  );
  if (backend === 'native') {
    const [native, nativeMs] = time(() => describe(data, { backend: 'native' }));
    console.log(
      `  native    ${nativeMs.toFixed(1).padStart(8)} ms  mean=${native.mean.toFixed(4)} ` +
        `variance=${native.variance.toFixed(6)}`,
    );
    const t0 = performance.now();
    await describeAsync(data);
    const asyncMs = performance.now() - t0;
    console.log(`  async     ${asyncMs.toFixed(1).padStart(8)} ms  (all cores, off the event loop)`);
    console.log(`  native is ${(jsMs / nativeMs).toFixed(1)}x pure-TS`);
  } else {
    console.log('  native backend not loaded: run `npx hotpath doctor` to see why');
  }
}

export async function demoCommand(): Promise<number> {
  console.log(`hotpath demo (backend: ${backend})\n`);
  await momentsSection();
  console.log();
  await concurrencySection();
  await memoryDemo();
  await expressionsSection();
  await countminSection();
  await cacheSection();
  await distributedSection();
  await openclSection();
  return 0;
}
