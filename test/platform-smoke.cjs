// Smoke test for a prebuild on a platform where vitest can't run (Windows' Node under Wine): plain Node, no
// test framework, run as `node test/platform-smoke.cjs` from the repository root with HOTPATH_NATIVE_PATH set.
// It loads the package by self-reference, requires the native backend, and checks that each native kernel
// family (moments, expression VM sync and async, count-min hashing, argument validation, OpenCL status) gives
// the pure-TS twin's answers. Exit 0 and one JSON line on success; exit 1 and the failed check otherwise.
'use strict';
const assert = require('node:assert/strict');
const hotpath = require('hotpath');

/** Same fields, each within `rel` relative error (the two backends sum in different orders). */
function assertClose(actual, expected, rel) {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort());
  for (const [key, want] of Object.entries(expected)) {
    const got = actual[key];
    assert.ok(Math.abs(got - want) <= rel * Math.abs(want) || got === want, `${key}: ${got} vs ${want}`);
  }
}

async function main() {
  assert.equal(hotpath.backend, 'native', `native addon not loaded: ${hotpath.nativeLoadError?.message}`);
  const values = Float64Array.from({ length: 100_003 }, (_, i) => Math.sin(i) * 1e3 + 1e9);
  const reference = hotpath.describe(values, { backend: 'js' });
  assertClose(hotpath.describe(values, { backend: 'native' }), reference, 1e-9);
  assertClose(await hotpath.describeAsync(values), reference, 1e-9);

  const a = Float64Array.from({ length: 50_000 }, (_, i) => i / 50_000);
  const b = a.map((x) => 1 - x);
  const expression = 'where(a > 0.5, sqrt(a) * b, sin(a) + b ** 2)';
  const native = hotpath.evaluate(expression, { a, b }, { backend: 'native' });
  const js = hotpath.evaluate(expression, { a, b }, { backend: 'js' });
  for (let i = 0; i < a.length; i += 997) assert.ok(Math.abs(native[i] - js[i]) <= 1e-15 * Math.abs(js[i]) + 1e-300);
  const sum = hotpath.evaluate('sum(a * b)', { a, b }, { backend: 'js' });
  assertClose({ sum: await hotpath.evaluateAsync('sum(a * b)', { a, b }) }, { sum }, 1e-12);

  for (const key of ['', 'hotpath', 'x'.repeat(1000)]) {
    assert.equal(hotpath.xxhash64(key, { backend: 'native' }), hotpath.xxhash64(key, { backend: 'js' }));
  }
  assert.throws(() => hotpath.evaluate('a +', { a }, { backend: 'native' }), /column 4/);
  assert.throws(() => hotpath.describe('not numbers', { backend: 'native' }), TypeError);

  const opencl = hotpath.opencl.available() ? 'available' : hotpath.opencl.unavailableReason();
  return { platform: `${process.platform}-${process.arch}`, node: process.version, backend: hotpath.backend, opencl };
}

main().then(
  (result) => console.log(JSON.stringify(result)),
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
