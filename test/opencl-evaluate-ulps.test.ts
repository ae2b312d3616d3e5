import { afterAll, beforeAll, describe as suite, expect, it } from 'vitest';
import { evaluate, opencl } from 'hotpath';
import { rng } from './helpers.js';

// Separate from opencl-evaluate.test.ts so the two files' kernel builds run in parallel.
const skipReason = opencl.available() ? null : opencl.unavailableReason();
if (skipReason) console.warn(`opencl.evaluate ulp tests skipped: ${skipReason}`);

const N = 4099;

/** Distance in units in the last place between two doubles (0 when both are the same NaN/Inf). */
function ulps(a: number, b: number): number {
  if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))) return 0;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return Infinity;
  const bits = new BigInt64Array(new Float64Array([a, b]).buffer);
  const ordered = (x: bigint) => (x < 0n ? -(x & 0x7fffffffffffffffn) : x);
  const d = ordered(bits[0]) - ordered(bits[1]);
  return Number(d < 0n ? -d : d);
}

// Transcendental functions: within the OpenCL C spec's ulp bound for the device, plus 1 for V8's own.
const transcendental: Array<[string, number]> = [
  ['sin(a)', 5],
  ['cos(a)', 5],
  ['tan(a)', 6],
  ['exp(c)', 4],
  ['expm1(c)', 4],
  ['log(abs(a))', 4],
  ['log1p(abs(a))', 3],
  ['log10(abs(b))', 4],
  ['log2(abs(b))', 4],
  ['arctan(a)', 6],
  ['arcsin(c / 10)', 5],
  ['arccos(c / 10)', 5],
  ['sinh(c)', 5],
  ['cosh(c)', 5],
  ['tanh(c)', 6],
  ['arcsinh(a)', 5],
  ['arccosh(abs(a) + 1)', 5],
  ['arctanh(c / 10)', 6],
  ['cbrt(a)', 3],
  ['arctan2(a, b)', 7],
  ['hypot(a, b)', 5],
  ['abs(a) ** c', 17],
];

suite.skipIf(skipReason !== null)('opencl.evaluate transcendental functions', () => {
  let ctx: opencl.Context;
  beforeAll(() => {
    ctx = opencl.createContext();
  });
  afterAll(() => ctx.release());

  it('stay within their documented ulp bounds of the CPU evaluate', async () => {
    const r = rng(31);
    const wide = (scale: number) => Float64Array.from({ length: N }, () => (r() - 0.5) * scale);
    const vars = { a: wide(8), b: wide(8), c: wide(20) };
    for (const [expr, bound] of transcendental) {
      const want = evaluate(expr, vars, { backend: 'js' }) as Float64Array;
      const got = (await opencl.evaluate(expr, vars, { context: ctx })) as Float64Array;
      let worst = 0;
      for (let i = 0; i < N; i++) worst = Math.max(worst, ulps(got[i], want[i]));
      expect(worst, `${expr}: ${worst} ulps`).toBeLessThanOrEqual(bound);
    }
  });
});
