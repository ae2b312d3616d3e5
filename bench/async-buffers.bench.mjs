// The cost of issue 15's buffer safety on async calls over 1e7 doubles. Native threads never touch
// an ordinary (detachable, resizable) ArrayBuffer after the call returns: inputs are copied into
// native memory during the call and an `out` result is copied back on the JavaScript thread. Arrays
// backed by a SharedArrayBuffer (cannot be detached or shrunk) are used in place: the rows compare
// the two on the same data, plus the synchronous call, which needs no copy.
import { backend, describe, describeAsync, evaluate, evaluateAsync } from 'hotpath';
import { report } from './harness.mjs';

const N = 10_000_000;
const out = new Float64Array(N);
const nativeSkip = backend === 'native' ? undefined : 'native addon not loaded';
const native = { backend: 'native' };
const toOut = { out, backend: 'native' };

function filled(buffer) {
  const x = new Float64Array(buffer);
  let seed = 12345;
  for (let i = 0; i < N; i++) x[i] = ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296) * 100;
  return x;
}
const a = filled(new ArrayBuffer(N * 8));
const b = filled(new ArrayBuffer(N * 8));
const sharedA = filled(new SharedArrayBuffer(N * 8));
const sharedB = filled(new SharedArrayBuffer(N * 8));
const sharedOut = new Float64Array(new SharedArrayBuffer(N * 8));
const expr = '2 * a + b';
const vars = { a, b };

export default function run() {
  return report(
    'async-buffers',
    `async calls on ${N.toExponential(0)} doubles: ArrayBuffer (copied) vs SharedArrayBuffer (in place)`,
    [
      { label: 'evaluate (sync), ArrayBuffer', run: () => evaluate(expr, vars, toOut), skip: nativeSkip },
      { label: 'evaluateAsync, ArrayBuffer (copied)', run: () => evaluateAsync(expr, vars, toOut), skip: nativeSkip },
      {
        label: 'evaluateAsync, SharedArrayBuffer',
        run: () => evaluateAsync(expr, { a: sharedA, b: sharedB }, { out: sharedOut, backend: 'native' }),
        skip: nativeSkip,
      },
      { label: 'describe (sync), ArrayBuffer', run: () => describe(a, { backend: 'native' }), skip: nativeSkip },
      { label: 'describeAsync, ArrayBuffer (copied)', run: () => describeAsync(a, native), skip: nativeSkip },
      { label: 'describeAsync, SharedArrayBuffer', run: () => describeAsync(sharedA, native), skip: nativeSkip },
    ],
    { baseline: 'evaluateAsync, SharedArrayBuffer' },
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
