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
  const r = spawnSync(process.execPath, [cliPath, ...args], { input, encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
