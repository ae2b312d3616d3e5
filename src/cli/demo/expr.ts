// `npm run demo` section: fused expressions, evaluateMany and vectorize on generated data.
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { backend } from '../../core/loader.js';
import { compile, evaluateMany } from '../../expr/program.js';
import { vectorize } from '../../expr/vectorize.js';
import { mulberry32 } from '../../core/random.js';

function uniform(n: number, seed: number): Float64Array {
  const random = mulberry32(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = random();
  return out;
}

async function timed(fn: () => unknown): Promise<number> {
  await fn();
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export async function demoSection(): Promise<void> {
  const n = 5_000_000;
  console.log(`\n## Vector expressions: n = ${n.toExponential(0)}, results into a preallocated array`);
  const vars = { a: uniform(n, 1), b: uniform(n, 2), c: uniform(n, 3), d: uniform(n, 4) };
  const out = new Float64Array(n);
  for (const expr of ['2*a + 3*b', 'a*b + c*sin(d)', 'where(a > 0.5, sqrt(a), b**2)']) {
    const program = compile(expr);
    const jsMs = await timed(() => program.run(vars, { backend: 'js', out }));
    let line = `  ${expr.padEnd(30)} pure-TS fused ${jsMs.toFixed(1).padStart(7)} ms`;
    if (backend === 'native') {
      const oneMs = await timed(() => program.run(vars, { backend: 'native', threads: 1, out }));
      const allMs = await timed(() => program.runAsync(vars, { backend: 'native', out }));
      line +=
        `  native 1 thread ${oneMs.toFixed(1).padStart(6)} ms  native ${os.availableParallelism()} threads ` +
        `${allMs.toFixed(1).padStart(6)} ms`;
    }
    console.log(line);
  }
  const t0 = performance.now();
  const many = evaluateMany({ sum: 'a + b', product: 'a * b', dot: 'sum(a * b)' }, vars);
  console.log(
    `  evaluateMany (3 outputs, one pass)  ${(performance.now() - t0).toFixed(1)} ms  dot = ` +
      `${(many.dot as number).toFixed(3)}`,
  );
  const hypot = vectorize((x, y) => Math.sqrt(x * x + y * y));
  const t1 = performance.now();
  const h = hypot(vars.a, vars.b) as Float64Array;
  console.log(
    `  vectorize((x, y) => Math.sqrt(x*x + y*y))  ${(performance.now() - t1).toFixed(1)} ms  h[0] = ${h[0].toFixed(6)}`,
  );
  if (backend !== 'native') console.log('  native backend not loaded: run `npx hotpath doctor` to see why');
}
