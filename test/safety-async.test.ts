// Issue 15: no sequence of JavaScript operations (detach, transfer, resize, GC, worker.terminate(),
// writes to shared memory from another thread) may make native code touch freed or out-of-range
// memory or abort the process. Each scenario runs in a child process (test/fixtures/safety/*.cjs)
// so a crash is observed as a failed assertion on the exit status instead of a dead test runner;
// racy scenarios loop inside the child. The children inherit HOTPATH_BACKEND, so the same
// assertions run on both backends.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { opencl } from 'hotpath';
import { repoRoot } from './helpers';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'safety');

function runChild(script: string, args: string[]) {
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(fixtures, script), ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr.slice(-2000) };
}

function expectClean(script: string, ...args: string[]) {
  const r = runChild(script, args);
  expect(r, `${script} ${args.join(' ')}`).toMatchObject({ status: 0, signal: null });
  expect(r.stdout).toMatch(/^ok/);
}

describe('issue 15: async calls whose buffers are detached or shrunk mid-call (items 1, 2)', () => {
  // Inputs are copied into native memory during the call; results written into `out` only after
  // checking it is still attached and long enough; SharedArrayBuffers are used in place.
  it.each([
    'evaluateInputDetached',
    'evaluateOutDetached',
    'programRunAsync',
    'vectorizeAsync',
    'describeAsync',
    'pushArrayAsync',
    'evaluateInputShrunk',
    'evaluateOutShrunk',
    'describeShrunk',
    'sharedZeroCopy',
  ])('%s: correct answer or a TypeError/RangeError, no crash (5 rounds)', (scenario) => {
    expectClean('async-detach.cjs', scenario, '5');
  });
});

describe('issue 15: OpenCL host memory, __local sizes and shared arrays (items 3, 6, 9)', () => {
  it.each(['readIntoDetached', 'readIntoShrunk', 'writeSourceDetached', 'sharedArrays', 'localTooLarge'])(
    '%s (5 rounds)',
    (scenario) => {
      expectClean('opencl.cjs', scenario, '5');
    },
  );
});

describe('issue 15: worker.terminate() with async native work in flight (item 4)', () => {
  it('drops the pending work quietly: no abort, no signal (15 terminations)', () => {
    expectClean('terminate.cjs', '15');
  });

  // Found by the fuzzer (1 run in ~40): a termination between a transfer's enqueue and the setup of its completion
  // freed the staging memory the command still read or wrote. Under ASan (.ci/asan.sh) this failed within the
  // first rounds of every run (cached staging blocks are poisoned there); elsewhere it shows as a crash at most.
  it.skipIf(!opencl.available())('terminate mid OpenCL read/write/kernel loop: memory stays owned (30 rounds)', () => {
    const r = runChild('terminate-opencl.cjs', ['30', '15']);
    expect(r).toMatchObject({ status: 0, signal: null });
    // Time-bounded: a loaded machine may run fewer rounds, but never so few that the race goes untried.
    expect(Number(/^ok (\d+)/.exec(r.stdout)?.[1])).toBeGreaterThanOrEqual(10);
  });

  // Found by the fuzzer in CI's ASan job (2026-11-30): OpenCL reads of a terminated worker completing while the
  // process exits touched the staging cache and the live-environment table after their static destructors had run.
  // Before the fix, 3 to 6 runs in 20 failed under ASan with the slow-exit shim (test/fixtures/safety/slow-exit.c);
  // in the normal build the same writes into freed memory go unseen, so this guards the ASan job above all.
  const shimDir = mkdtempSync(path.join(os.tmpdir(), 'hotpath-slow-exit-'));
  afterAll(() => rmSync(shimDir, { recursive: true, force: true }));
  const shim = path.join(shimDir, 'slow-exit.so');
  const compiled =
    spawnSync('cc', ['-shared', '-fPIC', '-o', shim, path.join(fixtures, 'slow-exit.c')], { encoding: 'utf8' })
      .status === 0;
  it.skipIf(!opencl.available() || !compiled || process.platform !== 'linux')(
    "process exit while a terminated worker's OpenCL reads complete: no use after free (24 runs)",
    () => {
      const preload = [process.env.LD_PRELOAD, shim].filter(Boolean).join(' ');
      const failures = [];
      for (let run = 0; run < 24; run++) {
        const r = spawnSync(process.execPath, [path.join(fixtures, 'exit-opencl.cjs')], {
          encoding: 'utf8',
          timeout: 60_000,
          env: { ...process.env, LD_PRELOAD: preload },
        });
        if (r.status !== 0 || !/^ok/.test(r.stdout) || /AddressSanitizer|runtime error:/.test(r.stderr)) {
          failures.push({ run, status: r.status, signal: r.signal, stderr: r.stderr.slice(0, 1500) });
        }
      }
      expect(failures).toEqual([]);
    },
  );
});

describe("count-min's pipelined updateMany stopped mid-call", () => {
  // A pool thread hashes a copy of the batch in flight; the call is stopped by worker.terminate() or process.exit()
  // from a getter on the keys. Each round tries both exits, from the main thread and from a worker.
  it('terminate and exit with a batch in flight: clean every time (8 rounds)', () => {
    expectClean('terminate-countmin.cjs', '8');
  });
});

describe('issue 15: NaN scan over a SharedArrayBuffer another thread writes (item 5)', () => {
  it("describe({ nan: 'raise' }) never reports an index outside the array (400k racing calls)", () => {
    expectClean('nan-race.cjs', '400000');
  });
});

describe('issue 15: native thread and scratch limits (items 7, 8)', () => {
  // ASan reserves terabytes of shadow address space: an address-space limit cannot apply there.
  const underAsan = /asan/.test(process.env.LD_PRELOAD ?? '');
  it.skipIf(underAsan)('describeAsync({ threads: 1024 }) completes where the OS cannot create 1023 threads', () => {
    const script = path.join(fixtures, 'many-threads.cjs');
    const r = spawnSync('bash', ['-c', `ulimit -v 3000000 && exec "${process.execPath}" "${script}"`], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.stderr).not.toMatch(/terminate called/);
    const outcome = { status: r.status, signal: r.signal, stdout: r.stdout.trim() };
    expect(outcome).toEqual({ status: 0, signal: null, stdout: 'ok' });
  });

  it('evaluate scratch grows with min(blockSize, n): 120 constants, blockSize 2^20, n = 4096', () => {
    const r = runChild('scratch.cjs', []);
    expect(r).toMatchObject({ status: 0, signal: null });
    const grownMiB = Number(/^ok (\d+)/.exec(r.stdout)?.[1]);
    // Before: ~1000 MiB of registers. The allowance covers ASan's quarantine and allocator slack.
    expect(grownMiB).toBeLessThan(underAsan ? 300 : 100);
  });
});
