import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describe as describeStats } from 'hotpath';
import { rng, runCli } from './helpers.js';

describe('hotpath stats', () => {
  it('streams a file and matches describe()', () => {
    const r = rng(9);
    const xs = Array.from({ length: 200_000 }, () => r() * 100 - 20);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-')), 'data.txt');
    fs.writeFileSync(file, xs.map((x) => x.toPrecision(17)).join('\n') + '\n');
    const out = runCli(['stats', file, '--json']);
    expect(out.code, out.stderr).toBe(0);
    const got = JSON.parse(out.stdout);
    const want = describeStats(xs);
    expect(got.count).toBe(200_000);
    expect(got.skipped).toBe(0);
    expect(got.mean).toBeCloseTo(want.mean, 10);
    expect(got.variance).toBeCloseTo(want.variance, 8);
    expect(got.kurtosis).toBeCloseTo(want.kurtosis, 10);
    expect([got.min, got.max]).toEqual([want.min, want.max]);
  });

  it('reads stdin, skips and counts malformed lines with their line numbers', () => {
    const out = runCli(['stats', '--json'], '1\n2\nabc\n\n4\n1e1\n');
    expect(out.code).toBe(0);
    expect(out.stderr).toMatch(/line 3: not a number: "abc"/);
    const got = JSON.parse(out.stdout);
    expect(got).toMatchObject({ count: 4, skipped: 1, mean: 4.25, min: 1, max: 10 });
  });

  it('reads a CSV column and fails on malformed input with --strict', () => {
    const csv = 'name,value\na,1\nb,3\nc,oops\n';
    const lenient = runCli(['stats', '--column', '2', '--json'], csv);
    // The header row is detected (no number in column 2) and names the column; only 'oops' is skipped.
    expect(JSON.parse(lenient.stdout)).toMatchObject({ column: 'value', count: 2, skipped: 1, mean: 2 });
    const strict = runCli(['stats', '--column', '2', '--strict'], csv);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/line 4: not a number: "oops"/);
    expect(strict.stdout).toBe('');
  });

  it('prints a table, writes non-finite JSON values as strings', () => {
    const table = runCli(['stats'], '5\n');
    expect(table.stdout).toMatch(/^count\s+1$/m);
    expect(table.stdout).toMatch(/^variance\s+NaN$/m);
    expect(JSON.parse(runCli(['stats', '--json'], '5\ninf\n').stdout).max).toBe('Infinity');
  });

  it('reports usage errors and missing files on stderr with a non-zero exit', () => {
    const bad = runCli(['stats', '--column', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--column numbers start at 1/);
    const missing = runCli(['stats', '/nonexistent/file.txt']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such (file|directory)/);
    expect(runCli(['stats', '--help']).stdout).toMatch(/Usage: hotpath stats/);
    expect(runCli(['nope']).code).toBe(2);
    const usage = runCli(['--help']);
    expect(usage.code).toBe(0);
    for (const command of ['stats', 'topk', 'doctor', 'fetch', 'mprof', 'worker', 'demo'])
      expect(usage.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    expect(runCli(['demo', 'extra']).code).toBe(2);
    expect(runCli(['demo', '--help']).stdout).toMatch(/Usage: hotpath demo/);
  });
});

describe('hotpath doctor', () => {
  it('reports the backend as JSON', () => {
    const out = runCli(['doctor', '--json']);
    expect(out.code).toBe(0);
    const report = JSON.parse(out.stdout);
    expect(['native', 'js']).toContain(report.backend);
    expect(report.node).toBe(process.version);
    expect(report.cpus).toBeGreaterThan(0);
    const forced = JSON.parse(runCli(['doctor', '--json'], undefined, { HOTPATH_BACKEND: 'js' }).stdout);
    expect(forced.backend).toBe('js');
    expect(forced.nativeLoadError).toMatch(/HOTPATH_BACKEND=js/);
    expect(forced.opencl).toMatchObject({ available: false, platforms: [] });
    if (report.opencl.available) expect(report.opencl.platforms[0].devices[0].computeUnits).toBeGreaterThan(0);
    expect(runCli(['doctor']).stdout).toMatch(/^opencl/m);
  });
});
