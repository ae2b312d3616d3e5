import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DOMParser } from '@xmldom/xmldom';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from './helpers.js';

const MIB = 1024 * 1024;
const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');

function mprof(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [cli, 'mprof', ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-mprof-'));
}

// A parent that stays small and a child process that holds 150 MiB for a while: the recorded
// peak must include the child.
const HOLD = (mib: number, ms: number) =>
  `const a = new Float64Array(${mib * 131072}).fill(1); setTimeout(() => a[0], ${ms})`;
const PARENT =
  `require('child_process').spawn(process.execPath, ['-e', ${JSON.stringify(HOLD(150, 500))}], ` +
  `{ stdio: 'inherit' }).on('exit', (c) => process.exit(c))`;

function parseSvg(text: string) {
  return new DOMParser({
    onError: (level, message) => {
      throw new Error(`SVG ${level}: ${message}`);
    },
  }).parseFromString(text, 'image/svg+xml');
}

describe('hotpath mprof run', () => {
  let dir: string;
  let run: ReturnType<typeof mprof>;
  let file: string;

  beforeAll(() => {
    dir = tempDir();
    run = mprof(['run', '--interval', '10ms', '--', process.execPath, '-e', PARENT], dir);
    file = path.join(
      dir,
      fs.readdirSync(dir).find((f) => f.startsWith('mprofile_'))!,
    );
  });

  it('samples the command and its children into mprofile_<timestamp>.json and prints the peak', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(path.basename(file)).toMatch(/^mprofile_\d{14}\.json$/);
    const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(profile).toMatchObject({
      format: 'hotpath-mprofile',
      version: 1,
      exitCode: 0,
      signal: null,
      intervalMs: 10,
    });
    expect(profile.command).toEqual([process.execPath, '-e', PARENT]);
    const rss = profile.samples.map((s: { rss: number }) => s.rss);
    expect(Math.max(...rss)).toBeGreaterThanOrEqual(150 * MIB);
    expect(Math.max(...profile.samples.map((s: { processes: number }) => s.processes))).toBe(2);
    expect(profile.samples.length).toBeGreaterThanOrEqual(5);
    expect(profile.samples.every((s: { processes: number; rss: number }) => s.processes >= 1 && s.rss > 0)).toBe(true);
    expect(run.stderr).toMatch(/peak \d+(\.\d)? MiB at \d+\.\d\d s, \d+ samples written to .*mprofile_\d{14}\.json/);
  });

  it('prints the peak of a profile, as text and JSON', () => {
    const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
    const top = Math.max(...profile.samples.map((s: { rss: number }) => s.rss));
    const json = mprof(['peak', '--json'], dir);
    expect(json.code, json.stderr).toBe(0);
    const peak = JSON.parse(json.stdout);
    expect(peak.peakBytes).toBe(top);
    expect(peak.peakMiB).toBeCloseTo(top / MIB, 9);
    expect(profile.samples.find((s: { t: number }) => s.t === peak.t).rss).toBe(top);
    const text = mprof(['peak', file, file], dir);
    expect(text.stdout.trim().split('\n')).toHaveLength(2);
    expect(text.stdout).toContain(`${(top / MIB).toFixed(1).replace(/\.0$/, '')} MiB`);
  });

  it('plots an SVG with labelled axes and the peak marked where the highest sample is', () => {
    const plotted = mprof(['plot'], dir);
    expect(plotted.code, plotted.stderr).toBe(0);
    const svgFile = file.replace(/\.json$/, '.svg');
    const svg = parseSvg(fs.readFileSync(svgFile, 'utf8')).documentElement!;
    expect(svg.tagName).toBe('svg');
    const texts = Array.from(svg.getElementsByTagName('text')).map((t) => t.textContent);
    expect(texts).toContain('time (s)');
    expect(texts).toContain('memory used (MiB)');

    const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
    const line = svg.getElementsByTagName('polyline')[0];
    const points = line
      .getAttribute('points')!
      .split(' ')
      .map((p) => p.split(',').map(Number));
    expect(points).toHaveLength(profile.samples.length);
    // SVG y grows downwards: the highest memory is the smallest y, and the marker sits on such a point.
    const marker = svg.getElementsByTagName('circle')[0];
    const [cx, cy] = [Number(marker.getAttribute('cx')), Number(marker.getAttribute('cy'))];
    expect(points).toContainEqual([cx, cy]);
    expect(cy).toBe(Math.min(...points.map((p) => p[1])));
    const peak = profile.samples.find(
      (s: { rss: number }) => s.rss === Math.max(...profile.samples.map((x: { rss: number }) => x.rss)),
    );
    expect(texts).toContain(`peak ${(peak.rss / MIB).toFixed(1)} MiB at ${peak.t.toFixed(2)} s`);
    // Tick labels are increasing numbers along each axis.
    for (const axis of ['x-axis', 'y-axis']) {
      const group = Array.from(svg.getElementsByTagName('g')).find((g) => g.getAttribute('class') === axis)!;
      const ticks = Array.from(group.getElementsByTagName('text'))
        .filter((t) => !t.getAttribute('class'))
        .map((t) => Number(t.textContent));
      expect(ticks.length).toBeGreaterThanOrEqual(3);
      ticks.forEach((v, i) => expect(i === 0 ? v === 0 : v > ticks[i - 1]).toBe(true));
    }
  });

  it('writes a PNG through rsvg-convert, or says what it needs', () => {
    const png = path.join(dir, 'chart.png');
    const r = mprof(['plot', file, '-o', png], dir);
    if (spawnSync('rsvg-convert', ['--version']).error) {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/PNG needs rsvg-convert/);
    } else {
      expect(r.code, r.stderr).toBe(0);
      expect(fs.readFileSync(png).subarray(0, 8)).toEqual(
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      );
    }
  });
});

describe('hotpath mprof errors', () => {
  it('passes on the command’s exit status (128 + signal) and still writes the profile', () => {
    const dir = tempDir();
    const r = mprof(['run', '-o', 'failed.json', '--', process.execPath, '-e', 'process.exit(3)'], dir);
    expect(r.code).toBe(3);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'failed.json'), 'utf8')).exitCode).toBe(3);
    const killed = mprof(
      ['run', '-o', 'killed.json', '--', process.execPath, '-e', "process.kill(process.pid, 'SIGTERM')"],
      dir,
    );
    expect(killed.code).toBe(128 + os.constants.signals.SIGTERM);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'killed.json'), 'utf8'))).toMatchObject({
      exitCode: null,
      signal: 'SIGTERM',
    });
  });

  it('plots a profile without samples, saying so', () => {
    const dir = tempDir();
    const empty = {
      format: 'hotpath-mprofile',
      version: 1,
      command: ['true'],
      startedAt: '2026-01-01T00:00:00.000Z',
      intervalMs: 100,
      exitCode: 0,
      signal: null,
      samples: [],
    };
    fs.writeFileSync(path.join(dir, 'empty.json'), JSON.stringify(empty));
    expect(mprof(['plot', 'empty.json', '-o', 'empty.svg'], dir).code).toBe(0);
    const svg = parseSvg(fs.readFileSync(path.join(dir, 'empty.svg'), 'utf8')).documentElement!;
    expect(Array.from(svg.getElementsByTagName('text')).map((t) => t.textContent)).toContain(
      'no samples: the command ended before the first one',
    );
    expect(svg.getElementsByTagName('circle')).toHaveLength(0);
  });

  it('reports a command that does not exist, with a non-zero exit and no file', () => {
    const dir = tempDir();
    const r = mprof(['run', '--', 'hotpath-no-such-command', '--flag'], dir);
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/cannot run "hotpath-no-such-command": command not found/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('rejects bad intervals and missing commands as usage errors', () => {
    const dir = tempDir();
    for (const interval of ['0ms', '-5ms', 'abc']) {
      const r = mprof(['run', `--interval=${interval}`, '--', process.execPath, '-e', '0'], dir);
      expect(r.code, interval).toBe(2);
      expect(r.stderr).toMatch(/--interval must be a duration of at least 1ms/);
    }
    expect(mprof(['run'], dir).stderr).toMatch(/needs a command to run after --/);
    const unknown = mprof(['graph'], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown subcommand 'graph'/);
    expect(mprof(['--help'], dir).stdout).toMatch(/Usage: hotpath mprof run\|plot\|peak/);
  });

  it('refuses files that are not its profiles, naming the file and why', () => {
    const dir = tempDir();
    const cases: [string, string, RegExp][] = [
      ['package.json', '{"name": "x"}', /is not a hotpath mprof profile \(no "format": "hotpath-mprofile" field\)/],
      ['notes.txt', 'hello', /is not a hotpath mprof profile \(not JSON\)/],
      ['mprofile.dat', 'CMDLINE python x.py\nMEM 12.5 1700000000.1\n', /Python memory_profiler's \.dat format/],
      ['future.json', '{"format": "hotpath-mprofile", "version": 9}', /unsupported version 9/],
      [
        'broken.json',
        '{"format": "hotpath-mprofile", "version": 1, "command": [], "samples": [{"t": 0}]}',
        /sample 0 needs/,
      ],
    ];
    // Both subcommands read through the same check: alternate them over the cases.
    cases.forEach(([name, content, message], i) => {
      fs.writeFileSync(path.join(dir, name), content);
      const sub = i % 2 === 0 ? 'plot' : 'peak';
      const r = mprof([sub, name], dir);
      expect(r.code, `${sub} ${name}`).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain(name);
    });
    expect(mprof(['plot', 'missing.json'], dir).stderr).toMatch(/no such file: missing\.json/);
    expect(mprof(['peak'], tempDir()).stderr).toMatch(/no mprofile_\*\.json in/);
    expect(mprof(['plot', 'package.json', '-o', 'chart.pdf'], dir).code).toBe(2);
  });
});
