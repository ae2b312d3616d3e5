// Generated files stay current: docs/cli.md is the CLI's own --help texts, the table of contents of
// docs/api.md lists its sections, and src/countmin/xxh64.ts is what scripts/gen-xxh64.mjs writes. On
// failure, run the script the message names.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers.js';

function check(script: string) {
  return spawnSync(process.execPath, [script, '--check'], { cwd: repoRoot, encoding: 'utf8' });
}

describe('generated files', () => {
  it('docs/cli.md matches `hotpath <command> --help`', () => {
    const result = check('scripts/cli-docs.mjs');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(fs.readFileSync(`${repoRoot}/docs/cli.md`, 'utf8')).toContain('## hotpath stats');
  });

  it('docs/api.md has a table of contents linking every ## and ### heading', () => {
    const result = check('scripts/api-toc.mjs');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const text = fs.readFileSync(`${repoRoot}/docs/api.md`, 'utf8');
    expect(text).toContain('- [describe(values, options?): `DescribeResult`](#describevalues-options-describeresult)');
  });

  it('src/countmin/xxh64.ts matches its templates in scripts/gen-xxh64.mjs', () => {
    const result = check('scripts/gen-xxh64.mjs');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(fs.readFileSync(`${repoRoot}/src/countmin/xxh64.ts`, 'utf8')).toContain('export function xxh64(');
  });
});
