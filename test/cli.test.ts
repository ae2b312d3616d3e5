// Black-box tests of the built `hotpath` command (dist/cli/main.js in a child process): stdout, stderr and
// exit status for good and bad input, holding the CLI to what a Unix user expects. Each `it` names the
// defect of issue 20 it guards against where it is a regression test.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoRoot, rng, runCli } from './helpers.js';

const cliPath = path.join(repoRoot, 'dist', 'cli', 'main.js');

function tempFile(name: string, content: string | Uint8Array): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-cli-')), name);
  fs.writeFileSync(file, content);
  return file;
}

/** Every number printed in a `stats` table, by row label (single-column table). */
function tableNumbers(stdout: string): Record<string, number> {
  const rows: Record<string, number> = {};
  for (const line of stdout.trim().split('\n')) {
    const [label, value] = line.trim().split(/\s+/);
    if (value !== undefined && label !== 'backend') rows[label] = Number(value);
  }
  return rows;
}

function noStackTrace(stderr: string): void {
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
}

describe('hotpath stats: the table shows the numbers --json gives (issue 20, defect 1)', () => {
  it('seq 1 1000000: variance 8.333341667e+10, not e+1', () => {
    const input = Array.from({ length: 1_000_000 }, (_, i) => i + 1).join('\n') + '\n';
    const table = runCli(['stats'], input);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^variance\s+8\.333341667e\+10$/m);
  });

  it('every printed number agrees with the --json value to 10 significant digits (property test)', () => {
    const r = rng(20);
    for (let round = 0; round < 8; round++) {
      const scale = 10 ** Math.floor(r() * 40 - 20);
      const xs = Array.from({ length: 50 }, () => (r() - 0.3) * scale);
      const input = xs.map((x) => x.toPrecision(17)).join('\n') + '\n';
      const table = tableNumbers(runCli(['stats'], input).stdout);
      const json = JSON.parse(runCli(['stats', '--json'], input).stdout) as Record<string, number>;
      for (const [key, value] of Object.entries(table)) {
        const want = json[key];
        expect(Number.isFinite(value), `${key} at scale ${scale}`).toBe(true);
        expect(Math.abs(value - want), `${key}: printed ${value}, JSON ${want}`).toBeLessThanOrEqual(
          Math.abs(want) * 5e-10,
        );
      }
    }
  });
});

describe('hotpath stats: CSV through a real parser (defects 2 and 3)', () => {
  it('keeps quoted delimiters inside a field: "Smith, John",Paris,3.5', () => {
    const file = tempFile('people.csv', 'name,city,score\n"Smith, John",Paris,3.5\n"Doe, Jane",Rome,4.5\n');
    const out = runCli(['stats', file, '--column', '3', '--json', '--strict']);
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ column: 'score', count: 2, mean: 4, skipped: 0 });
  });

  it("accepts the README's `--column 3 --json --strict` on a CSV with a header, and columns by name", () => {
    const file = tempFile('data.csv', '\ufeffid,item,price\r\n1,apple,1.5\r\n2,pear,2.5\r\n3,fig,5\r\n');
    const byNumber = runCli(['stats', file, '--column', '3', '--json', '--strict']);
    expect(byNumber.code, byNumber.stderr).toBe(0);
    expect(JSON.parse(byNumber.stdout)).toMatchObject({ column: 'price', count: 3, mean: 3, min: 1.5, max: 5 });
    const byName = runCli(['stats', file, '--column', 'price', '--json']);
    expect(JSON.parse(byName.stdout)).toMatchObject({ column: 'price', count: 3, mean: 3 });
    const unknown = runCli(['stats', file, '--column', 'cost']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no column named 'cost'/);
  });

  it('--delimiter, --no-header and several columns at once', () => {
    const file = tempFile('semi.csv', '1;10;x\n2;20;y\n3;30;z\n');
    const out = runCli(['stats', file, '--column', '1,2', '--delimiter', ';', '--no-header', '--json']);
    expect(out.code, out.stderr).toBe(0);
    const { columns } = JSON.parse(out.stdout);
    expect(columns.map((c: { column: string; mean: number }) => [c.column, c.mean])).toEqual([
      ['1', 2],
      ['2', 20],
    ]);
    const all = runCli(['stats', tempFile('h.csv', 'a,b,name\n1,4,x\n3,8,y\n'), '--column', 'all', '--json']);
    expect(JSON.parse(all.stdout).columns.map((c: { column: string; mean: number }) => [c.column, c.mean])).toEqual([
      ['a', 2],
      ['b', 6],
    ]);
    const table = runCli(['stats', file, '--column', '1,2', '--delimiter', ';']);
    expect(table.stdout).toMatch(/^mean\s+2\s+20$/m);
  });
});

describe('hotpath stats: no numbers is a failure (defect 4)', () => {
  it.each([
    ['an empty input', ''],
    ['a non-numeric column', 'x\ny\nz\n'],
    ['binary garbage', '\u0000\u0001\u00ff\u0002garbage\n\u0003'],
  ])('exits 1 with one line on stderr for %s', (_what, input) => {
    const out = runCli(['stats'], input);
    expect(out.code).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(/no numbers found in \d+ line\(s\) read/);
    const allowed = runCli(['stats', '--allow-empty', '--json'], input);
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.stdout).count).toBe(0);
  });
});

describe('hotpath stats: --nan raise names the input line (defect 5)', () => {
  it('reports the line number, not an index inside a batch', () => {
    const lines = Array.from({ length: 70_000 }, (_, i) => String(i));
    lines[68_000] = 'nan';
    const out = runCli(['stats', '--nan', 'raise'], lines.join('\n'));
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/line 68001: NaN/);
    noStackTrace(out.stderr);
  });
});

describe('a broken backend never prints a stack trace (defect 6)', () => {
  it.each([
    ['an invalid HOTPATH_BACKEND', { HOTPATH_BACKEND: 'bogus' }],
    [
      'HOTPATH_BACKEND=native with no loadable addon',
      { HOTPATH_BACKEND: 'native', HOTPATH_NATIVE_PATH: '/nonexistent/hotpath.node' },
    ],
  ])('with %s: doctor explains, --help works, other commands print one line', (_what, env) => {
    const doctor = runCli(['doctor'], undefined, env);
    expect(doctor.stdout).toMatch(/^backend\s+unavailable$/m);
    expect(doctor.stdout).toMatch(/^native addon\s+not loaded: .*HOTPATH_BACKEND/m);
    expect(doctor.stdout).not.toMatch(/Require stack/);
    expect(doctor.code).toBe(1);
    noStackTrace(doctor.stderr);
    const json = JSON.parse(runCli(['doctor', '--json'], undefined, env).stdout);
    expect(json.backend).toBe('unavailable');
    for (const args of [['--help'], ['stats', '--help'], ['topk', '-h'], ['--version']]) {
      const help = runCli(args, undefined, env);
      expect(help.code, args.join(' ')).toBe(0);
      expect(help.stderr).toBe('');
    }
    const stats = runCli(['stats'], '1\n2\n', env);
    expect(stats.code).toBe(1);
    expect(stats.stderr).toMatch(/^hotpath stats: .*HOTPATH_BACKEND/);
    noStackTrace(stats.stderr);
  });

  it('HOTPATH_DEBUG=1 shows the stack for bug reports', () => {
    const out = runCli(['stats'], '1\n', { HOTPATH_BACKEND: 'bogus', HOTPATH_DEBUG: '1' });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/\n\s+at /);
  });
});

describe('hotpath topk', () => {
  it('escapes control bytes in the table and keeps --json exact (defect 7)', () => {
    const input = 'evil\u001b[31mred\nevil\u001b[31mred\ntab\there\nplain\n';
    const table = runCli(['topk', '--k', '5'], input);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).not.toContain('\u001b');
    expect(table.stdout).toContain('evil\\x1b[31mred');
    expect(table.stdout).toContain('tab\\there');
    const json = JSON.parse(runCli(['topk', '--k', '5', '--json'], input).stdout);
    expect(json.items.map((i: { key: string }) => i.key)).toContain('evil\u001b[31mred');
  });

  it('checks the --save path before reading any input (defect 8)', async () => {
    // stdin stays open: a check made only after reading all input would never come.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-cli-'));
    for (const [target, message] of [
      ['/nonexistent-dir/run.topk', /no such directory: \/nonexistent-dir/],
      [dir, /is a directory/],
    ] as const) {
      const child = spawn(process.execPath, [cliPath, 'topk', '--save', target], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => {
          child.kill();
          resolve(null);
        }, 10_000);
        child.on('exit', (status) => {
          clearTimeout(timer);
          resolve(status);
        });
      });
      child.stdin.destroy();
      expect(code).toBe(1);
      expect(stderr).toMatch(message);
    }
  });

  it('mismatched --load files are a file problem: exit 1 (defect 9)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-cli-'));
    const a = path.join(dir, 'a.topk');
    const b = path.join(dir, 'b.topk');
    expect(runCli(['topk', '--width', '64', '--depth', '3', '--save', a], 'x\n').code).toBe(0);
    expect(runCli(['topk', '--width', '128', '--depth', '3', '--save', b], 'x\n').code).toBe(0);
    const out = runCli(['topk', '--load', a, '--load', b], '');
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/cannot be merged/);
    const damaged = runCli(['topk', '--load', tempFile('bad.topk', 'not a sketch')], '');
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toMatch(/--load .*bad\.topk/);
  });
});

describe('hotpath mprof (defect 9)', () => {
  it('peak reports every readable file and names the bad ones, exit 1', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-cli-'));
    const good = path.join(dir, 'good.json');
    const run = spawnRecord(good);
    expect(run.code, run.stderr).toBe(0);
    const out = runCli(['mprof', 'peak', path.join(dir, 'missing.json'), good]);
    expect(out.code).toBe(1);
    expect(out.stdout).toContain('good.json');
    expect(out.stderr).toMatch(/no such file: .*missing\.json/);
    const noDir = runCli(['mprof', 'peak', '/nonexistent-dir/x.json']);
    expect(noDir.stderr).toMatch(/no such directory: \/nonexistent-dir/);
  });

  it('run -- true hints at --interval when the command was barely sampled', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-cli-'));
    const out = runCli(['mprof', 'run', '-o', path.join(dir, 'p.json'), '--', 'true']);
    expect(out.code).toBe(0);
    expect(out.stderr).toMatch(/shorter --interval/);
  });
});

function spawnRecord(output: string) {
  return runCli([
    'mprof',
    'run',
    '--interval',
    '10ms',
    '-o',
    output,
    '--',
    process.execPath,
    '-e',
    'setTimeout(() => {}, 100)',
  ]);
}

describe('every subcommand behaves as a Unix tool', () => {
  it('--version prints the package version (defect 10)', () => {
    const out = runCli(['--version']);
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
    expect(out.stdout.trim()).toBe(pkg.version);
    expect(runCli(['-V']).stdout.trim()).toBe(pkg.version);
  });

  it.each(['stats', 'topk', 'doctor', 'fetch', 'mprof', 'worker', 'demo'])(
    '%s --help: usage with examples, exit 0',
    (command) => {
      const out = runCli([command, '--help']);
      expect(out.code).toBe(0);
      expect(out.stdout).toMatch(new RegExp(`^Usage: hotpath ${command}`));
      if (command !== 'demo') expect(out.stdout).toMatch(/Examples:/);
    },
  );

  it('usage errors exit 2 with a hint, missing files exit 1 with one line', () => {
    for (const args of [
      ['stats', '--bogus'],
      ['topk', '--by', 'char'],
      ['stats', '--header', '--no-header'],
    ]) {
      const out = runCli(args, '');
      expect(out.code, args.join(' ')).toBe(2);
      expect(out.stderr).toMatch(/--help' for usage/);
    }
    for (const command of ['stats', 'topk']) {
      const out = runCli([command, '/nonexistent/file.txt']);
      expect(out.code).toBe(1);
      expect(out.stderr.trim()).toBe(`hotpath ${command}: no such directory: /nonexistent (for /nonexistent/file.txt)`);
    }
  });

  it('npm run bench with an unknown name says which exist, exit 2 (defect 10)', () => {
    const out = spawnSync(process.execPath, [path.join(repoRoot, 'bench', 'run.mjs'), 'nosuchbench'], {
      encoding: 'utf8',
    });
    expect(out.status).toBe(2);
    expect(out.stderr).toMatch(/no benchmark named 'nosuchbench'; available: .*moments/);
    noStackTrace(out.stderr);
  });
});
