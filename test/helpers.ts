import * as hotpath from 'hotpath';

/** Backends the shared suite runs on in this process: both when the addon loaded, else the fallback. */
export const backends: hotpath.Backend[] = hotpath.backend === 'native' ? ['native', 'js'] : ['js'];

/** Small seeded PRNG (mulberry32) so randomized cases are reproducible from the seed in the test name. */
export { mulberry32 as rng } from '../dist/core/random.js';

export function relClose(actual: number, expected: number, tol = 1e-12): boolean {
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  if (!Number.isFinite(expected)) return actual === expected;
  return Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected));
}

import { spawnSync } from 'node:child_process';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..');
const cliPath = path.join(repoRoot, 'dist', 'cli', 'main.js');

/** Runs the built `hotpath` CLI with the test's own Node binary. */
export function runCli(args: string[], input?: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [cliPath, ...args], {
    input,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The expression functions as plain float64 Math calls (fmod is JS's truncated %), for the reference
 * evaluators of the expression tests: independent of the IR, the folding and both code generators.
 */
export const REFERENCE_FNS: Record<string, (...x: number[]) => number> = {
  sin: Math.sin,
  cos: Math.cos,
  tan: Math.tan,
  arcsin: Math.asin,
  arccos: Math.acos,
  arctan: Math.atan,
  sinh: Math.sinh,
  cosh: Math.cosh,
  tanh: Math.tanh,
  arcsinh: Math.asinh,
  arccosh: Math.acosh,
  arctanh: Math.atanh,
  exp: Math.exp,
  expm1: Math.expm1,
  log: Math.log,
  log1p: Math.log1p,
  log10: Math.log10,
  log2: Math.log2,
  sqrt: Math.sqrt,
  cbrt: Math.cbrt,
  abs: Math.abs,
  floor: Math.floor,
  ceil: Math.ceil,
  trunc: Math.trunc,
  arctan2: Math.atan2,
  hypot: Math.hypot,
  minimum: Math.min,
  maximum: Math.max,
  where: (c, a, b) => (c !== 0 ? a : b),
  fmod: (a, b) => a % b,
  copy: (a) => a,
  ones_like: () => 1,
};
