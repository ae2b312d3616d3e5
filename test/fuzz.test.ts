// The fuzz harness (test/fuzz/, `npm run fuzz`) in the suite: a short seeded pass over every group must end without
// an unexpected failure, and the driver must catch and attribute the failures it exists to see (an abort, a
// sanitizer report from a process that exited 0, a hang, a non-Error throw), each with a reproducer; a hang's report
// also says where the child got to (its last protocol lines, and its threads' native stacks when gdb is on PATH).
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers';

const driver = path.join(repoRoot, 'test', 'fuzz', 'run.mjs');
const fakeChild = path.join(repoRoot, 'test', 'fixtures', 'fuzz-fake-child.mjs');

function fuzz(args: string[], env: Record<string, string | undefined> = {}) {
  const result = spawnSync(process.execPath, [driver, ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('fuzz harness', () => {
  it('runs every API target, mutated buffers and the exit scenario with a fixed seed without failures', () => {
    // Fixed cases rather than --seconds: the same work however busy the machine is (every target twice).
    const { status, output } = fuzz([
      '--seed',
      '20261129',
      '--case',
      'api:0-99',
      '--case',
      'buffers:0-39',
      '--case',
      'scenario:18',
    ]);
    expect(output, output).toMatch(/fuzz: no failures/);
    expect(status).toBe(0);
    expect(Number(/fuzz: (\d+) cases/.exec(output)?.[1])).toBe(141);
    for (const subject of [
      'api/describe:',
      'api/opencl.evaluate:',
      'api/distributed openers:',
      'buffers:',
      'scenario/process.exit during native work: exits',
    ]) {
      expect(output).toContain(subject);
    }
  });

  it('replays one case from its id and the seed', () => {
    const first = fuzz(['--seed', '7', '--case', 'api:3', '--case', 'buffers:11']);
    const again = fuzz(['--seed', '7', '--case', 'api:3', '--case', 'buffers:11']);
    const outcomes = (output: string) => output.split('\n').filter((line) => /^\s+\d+ {2}/.test(line));
    expect(outcomes(first.output)).toHaveLength(2);
    expect(outcomes(again.output)).toEqual(outcomes(first.output));
  });

  const failures: Array<[string, RegExp]> = [
    ['abort', /FAIL api:1 \(api\/[^)]+\): child died: signal SIGABRT/],
    ['sanitizer', /FAIL api:1 \(api\/[^)]+\): sanitizer report in the output/],
    ['hang', /FAIL api:1 \(api\/[^)]+\): hang: no progress for 3000 ms/],
    ['non-error', /FAIL api:1 \(api\/[^)]+\): threw a non-Error: number 42/],
  ];
  it.each(failures)('reports a child that does "%s" with the case that did it and a reproducer', (mode, line) => {
    const timeout = mode === 'hang' ? ['--case-timeout', '3000'] : [];
    const { status, output } = fuzz(
      ['--seed', '5', '--case', 'api:0', '--case', 'api:1', ...timeout, '--child', fakeChild],
      { FUZZ_FAKE: mode },
    );
    expect(output).toMatch(line);
    expect(output).toContain('reproduce: npm run fuzz -- --seed 5 --case api:1');
    expect(output).not.toMatch(/FAIL api:0/);
    expect(status).toBe(1);
  });

  // Stacks need gdb and the right to ptrace a child (a container may refuse it): probed once on a sleeping child.
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
  const gdbCanAttach = /^#0 /m.test(
    spawnSync('gdb', ['-p', String(sleeper.pid), '-batch', '-ex', 'bt'], { encoding: 'utf8' }).stdout ?? '',
  );
  sleeper.kill();
  it.each([
    ['with gdb on PATH', process.env.PATH],
    ['without gdb on PATH', ''],
  ])('says where a hung child got to: its last protocol line and its threads, %s', (label, PATH) => {
    const hang = ['--seed', '5', '--case', 'api:1', '--case-timeout', '1000', '--child', fakeChild];
    const { status, output } = fuzz(hang, { FUZZ_FAKE: 'hang', PATH });
    expect(output).toMatch(/FAIL api:1 .*: hang: .*; last protocol line \d+ ms before: @@step api:1 waiting forever\)/);
    expect(output).toMatch(/\| +0 ms {2}@@start api:1\n {2}\| +\d+ ms {2}@@step api:1 waiting forever\n/);
    if (PATH === '') expect(output).toContain('| no thread stacks: gdb is not on PATH');
    else if (gdbCanAttach) expect(output).toMatch(/\| thread [\d, "a-z]*\b1 "node":\n {2}\| #0 \S+/);
    else expect(output, label).toMatch(/\| no thread stacks(: gdb is not on PATH| from gdb \(.+\))/);
    expect(status).toBe(1);
  });
});
