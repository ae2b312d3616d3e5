// opencl.evaluate vs the CPU evaluate (native, all threads) vs pure-TS, at n = 1e6 and 1e7, on a
// light expression and a heavy one (a degree-50 polynomial by Horner's rule: 100 flops per element).
// The OpenCL time is split: "transfer" uploads the inputs and downloads the result through
// pre-created Buffers, "kernel" evaluates on Buffers already on the device (nothing crosses the bus),
// and "end to end" is opencl.evaluate on typed arrays (upload + kernel + download).
import { backend, evaluate, opencl } from 'hotpath';
import { report, uniformArray } from './harness.mjs';

const horner = Array.from({ length: 50 }, (_, k) => k).reduce((acc, k) => `(${acc}*a + ${((k % 7) - 3) / 8})`, '0.5');
const expressions = [
  { name: 'light', expr: 'a*b + c*sin(d)' },
  { name: 'poly50', expr: horner },
];
const sizes = [1e6, 1e7];

const data = (n, seed) => uniformArray(n, seed, { lo: -1, hi: 1 });

export default async function run() {
  const results = [];
  const skip = opencl.available() ? undefined : `OpenCL unavailable: ${opencl.unavailableReason()}`;
  const device = skip ? null : opencl.defaultDevice();
  const context = device ? opencl.createContext(device) : null;
  for (const n of sizes) {
    const vars = { a: data(n, 1), b: data(n, 2), c: data(n, 3), d: data(n, 4) };
    const out = new Float64Array(n);
    for (const { name, expr } of expressions) {
      const names = ['a', 'b', 'c', 'd'].filter((v) => new RegExp(`\\b${v}\\b`).test(expr));
      const inputs = Object.fromEntries(names.map((v) => [v, vars[v]]));
      const device_ = context ? Object.fromEntries(names.map((v) => [v, context.buffer(vars[v])])) : null;
      const deviceOut = context ? context.buffer(n * 8, { type: 'double' }) : null;
      const cases = [
        { label: 'pure-TS evaluate', run: () => evaluate(expr, inputs, { backend: 'js', out }), repeat: 3 },
        {
          label: 'native CPU evaluate (all threads)',
          run: () => evaluate(expr, inputs, { backend: 'native', out }),
          skip: backend === 'native' ? undefined : 'native addon not loaded',
        },
        { label: 'opencl end to end', run: () => opencl.evaluate(expr, inputs, { context, out }), skip, repeat: 5 },
        { label: 'opencl kernel (Buffers on device)', run: () => opencl.evaluate(expr, device_, { context, out: deviceOut }), skip },
        {
          label: 'opencl transfer (upload + download)',
          run: () => Promise.all([...names.map((v) => device_[v].write(vars[v])), deviceOut.read(out)]),
          skip,
        },
      ];
      const where = device ? `${device.name} (${device.type})` : 'no OpenCL device';
      results.push(
        await report(`opencl-${name}-${n.toExponential(0).replace('+', '')}`, `${name === 'light' ? expr : 'degree-50 polynomial (Horner)'}, n = ${n.toExponential(0)}, OpenCL on ${where}`, cases, {
          baseline: 'pure-TS evaluate',
        }),
      );
      for (const b of [...Object.values(device_ ?? {}), deviceOut]) b?.release();
    }
  }
  context?.release();
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
