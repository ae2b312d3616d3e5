// Moments over 1e7 doubles: native vs pure-TS vs simple-statistics, with a plain native sum over
// the same array as the streaming bound (the addon's floatSum, loaded directly: not public API).
import { describe, describeAsync, backend, nativePath } from 'hotpath';
import { createRequire } from 'node:module';
import * as ss from 'simple-statistics';
import { report, uniformArray } from './harness.mjs';

const N = 10_000_000;
const data = uniformArray(N, 12345, { hi: 100 });
const plain = Array.from(data.subarray(0, N));
const addon = nativePath ? createRequire(import.meta.url)(nativePath) : null;

export default function run() {
  return report(
    'moments',
    `describe() on ${N.toExponential(0)} doubles`,
    [
      { label: 'simple-statistics (4 calls)', run: () => [ss.mean(plain), ss.sampleVariance(plain), ss.sampleSkewness(plain), ss.sampleKurtosis(plain)], repeat: 3 },
      { label: 'JS Welford loop (variance only)', run: () => welford(data) },
      { label: 'pure-TS describe', run: () => describe(data, { backend: 'js' }) },
      { label: 'native describe', run: () => describe(data, { backend: 'native' }), skip: backend === 'native' ? undefined : 'native addon not loaded' },
      { label: 'native describeAsync (all cores)', run: () => describeAsync(data, { backend: 'native' }), skip: backend === 'native' ? undefined : 'native addon not loaded' },
      { label: 'plain native sum (streaming bound)', run: () => addon.floatSum(data), skip: addon ? undefined : 'native addon not loaded' },
      { label: 'plain JS sum', run: () => sum(data) },
    ],
    { baseline: 'simple-statistics (4 calls)' },
  );
}

function welford(x) {
  let n = 0, mean = 0, m2 = 0;
  for (let i = 0; i < x.length; i++) {
    n++;
    const d = x[i] - mean;
    mean += d / n;
    m2 += d * (x[i] - mean);
  }
  return m2 / (n - 1);
}

function sum(x) {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (let i = 0; i + 3 < x.length; i += 4) { s0 += x[i]; s1 += x[i + 1]; s2 += x[i + 2]; s3 += x[i + 3]; }
  return s0 + s1 + s2 + s3;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
