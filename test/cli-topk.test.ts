import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TopK } from 'hotpath';
import { runCli } from './helpers.js';
import { exactCounts, zipfStream } from './zipf.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-topk-'));

describe('hotpath topk', () => {
  it('streams a file and prints the heavy hitters with bounds that bracket the true counts', () => {
    const stream = zipfStream(5, 60_000, 3000, 1.1);
    const file = path.join(tmp(), 'keys.txt');
    fs.writeFileSync(file, stream.join('\n') + '\n');
    const out = runCli(['topk', file, '--k', '5', '--width', '2000', '--depth', '5', '--json']);
    expect(out.code, out.stderr).toBe(0);
    const got = JSON.parse(out.stdout);
    expect(got).toMatchObject({ k: 5, totalCount: 60_000, width: 2000, depth: 5 });
    const truth = exactCounts(stream);
    const top = [...truth.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([k]) => k);
    expect(got.items.map((e: { key: string }) => e.key)).toEqual(expect.arrayContaining(top));
    for (const e of got.items) {
      expect(e.estimate).toBeGreaterThanOrEqual(truth.get(e.key)!);
      expect(e.lowerBound).toBeLessThanOrEqual(truth.get(e.key)!);
    }
    // The same stream through the API gives the same list.
    const api = new TopK(5, { width: 2000, depth: 5 }).updateMany(stream);
    expect(got.items).toEqual(api.list());
  });

  it('counts words from stdin and prints a table', () => {
    const out = runCli(['topk', '--by', 'word', '--k', '2'], 'to be or\n  not to be\n\nto\n');
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/^\s+1\s+3\s+3\s+to$/m);
    expect(out.stdout).toMatch(/^\s+2\s+2\s+2\s+be$/m);
    expect(out.stdout).toMatch(/^7 items; sketch 27183 x 7/m);
  });

  it('saves runs and merges them with --load into the counts of the whole stream', () => {
    const dir = tmp();
    const a = path.join(dir, 'a.bin');
    const b = path.join(dir, 'b.bin');
    expect(runCli(['topk', '--k', '3', '--width', '500', '--depth', '3', '--save', a], 'x\nx\ny\n').code).toBe(0);
    expect(runCli(['topk', '--k', '3', '--width', '500', '--depth', '3', '--save', b], 'y\ny\nz\n').code).toBe(0);
    const merged = runCli(['topk', '--load', a, '--load', b, '--json'], 'z\nz\nz\n');
    expect(merged.code, merged.stderr).toBe(0);
    const got = JSON.parse(merged.stdout);
    expect(got).toMatchObject({ k: 3, totalCount: 9, width: 500, depth: 3 });
    expect(got.items.map((e: { key: string; estimate: number }) => [e.key, e.estimate])).toEqual([
      ['z', 4],
      ['y', 3],
      ['x', 2],
    ]);
  });

  it('reports usage errors (exit 2) and bad input files (exit 1)', () => {
    const dir = tmp();
    expect(runCli(['topk', '--by', 'char'], '').stderr).toMatch(/--by must be line or word, got 'char'/);
    expect(runCli(['topk', '--k', '0'], '').code).toBe(2);
    expect(runCli(['topk', '--epsilon', 'abc'], '').code).toBe(2);
    expect(runCli(['topk', '--epsilon', '2'], '').stderr).toMatch(/epsilon must be in \(0, 1\), got 2/);
    expect(runCli(['topk', '--width', '10'], '').stderr).toMatch(/--width and --depth go together/);
    expect(runCli(['topk', '--width', '10', '--depth', '2', '--epsilon', '0.1'], '').code).toBe(2);
    const saved = path.join(dir, 'run.bin');
    runCli(['topk', '--save', saved, '--width', '50', '--depth', '2'], 'a\n');
    expect(runCli(['topk', '--load', saved, '--width', '10'], '').stderr).toMatch(/--load takes the dimensions/);
    const missing = runCli(['topk', path.join(dir, 'nope.txt')]);
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringMatching(/no such file/)]);
    const bytes = fs.readFileSync(saved);
    bytes[bytes.length - 20] ^= 0xff;
    fs.writeFileSync(saved, bytes);
    const corrupt = runCli(['topk', '--load', saved], '');
    expect([corrupt.code, corrupt.stderr]).toEqual([1, expect.stringMatching(/checksum mismatch/)]);
  });
});
