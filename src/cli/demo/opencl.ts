// `npm run demo` section: opencl.evaluate against the CPU evaluate on the same expression, then a
// PyOpenCL-style ElementwiseKernel and ReductionKernel on device-resident Buffers.
import { performance } from 'node:perf_hooks';
import { backend } from '../../core/loader.js';
import { evaluate as cpuEvaluate } from '../../expr/index.js';
import { evaluate } from '../../opencl/evaluate.js';
import { available, createContext, unavailableReason } from '../../opencl/runtime.js';
import { ElementwiseKernel, ReductionKernel } from '../../opencl/snippets.js';
import { mulberry32 } from '../../core/random.js';

async function timed<T>(fn: () => T | Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const result = await fn();
  return [result, performance.now() - t0];
}

export async function demoSection(): Promise<void> {
  console.log('\n## OpenCL: a*b + c*sin(d) over 2e6 doubles, on the device and on the CPU');
  if (!available()) {
    console.log(`  OpenCL unavailable: ${unavailableReason()}`);
    return;
  }
  const context = createContext();
  const n = 2_000_000;
  const uniform = mulberry32(7);
  const random = () => uniform() * 2 - 1;
  const vars = {
    a: Float64Array.from({ length: n }, random),
    b: Float64Array.from({ length: n }, random),
    c: Float64Array.from({ length: n }, random),
    d: Float64Array.from({ length: n }, random),
  };
  const expr = 'a*b + c*sin(d)';
  try {
    console.log(`  device: ${context.device}`);
    const [, firstMs] = await timed(() => evaluate(expr, vars, { context }));
    const [device, deviceMs] = await timed(() => evaluate(expr, vars, { context }) as Promise<Float64Array>);
    const [js, jsMs] = await timed(() => cpuEvaluate(expr, vars, { backend: 'js' }) as Float64Array);
    console.log(
      `  opencl.evaluate  ${deviceMs.toFixed(1).padStart(8)} ms  (first call ${firstMs.toFixed(0)} ms: generates and ` +
        `builds the kernel)`,
    );
    console.log(`  pure-TS          ${jsMs.toFixed(1).padStart(8)} ms`);
    if (backend === 'native') {
      const [, nativeMs] = await timed(() => cpuEvaluate(expr, vars, { backend: 'native' }));
      console.log(`  native CPU       ${nativeMs.toFixed(1).padStart(8)} ms`);
    }
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(device[i] - js[i]));
    console.log(
      `  largest difference from the CPU: ${worst.toExponential(2)} (sin within a few ulps; + and * bit-exact)`,
    );

    const x = context.buffer(vars.a);
    const y = context.buffer(n * 8, { type: 'double' });
    const scale = new ElementwiseKernel(context, 'double s, const double *x, double *y', 'y[i] = s * x[i] * x[i]');
    const dot = new ReductionKernel(context, {
      type: 'double',
      neutral: '0',
      reduce: 'a + b',
      map: 'x[i] * y[i]',
      arguments: 'const double *x, const double *y',
    });
    await Promise.all([scale.build(), dot.build()]);
    const [, scaleMs] = await timed(() => scale.run([2, x, y]));
    const [sum, sumMs] = await timed(() => dot.run([x, y]));
    console.log(
      `  ElementwiseKernel y = 2x^2: ${scaleMs.toFixed(1)} ms; ReductionKernel sum(x*y) = ${Number(sum).toFixed(3)}: ` +
        `${sumMs.toFixed(1)} ms (data stays on the device)`,
    );
    for (const o of [scale, dot, x, y]) o.release();
  } finally {
    context.release();
  }
}
