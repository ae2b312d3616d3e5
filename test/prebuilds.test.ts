// scripts/check-prebuilds.mjs reads a binary's format, machine, symbol versions and linked libraries; prepack
// refuses a tarball whose prebuilds fail it (issue 19: the shipped linux-x64 binary needed GLIBC_2.35 and
// GLIBCXX_3.4.30, so it did not load on Debian 11, Ubuntu 20.04 or RHEL 8).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers.js';

interface CheckPrebuilds {
  promised: Record<string, unknown>;
  portabilityProblem(target: string, file: string): string | null;
}
const check = (await import(path.join(repoRoot, 'scripts/check-prebuilds.mjs'))) as CheckPrebuilds;

// A build made on this machine (node-gyp or cmake-js, Debian 12: glibc 2.36, libstdc++ linked dynamically).
const hostBuild = ['build/Release/hotpath.node', 'build-cmake/Release/hotpath.node']
  .map((file) => path.join(repoRoot, file))
  .find((file) => fs.existsSync(file));
const manifestFile = path.join(repoRoot, 'prebuilds/manifest.json');
const manifest: Record<string, unknown> = fs.existsSync(manifestFile)
  ? JSON.parse(fs.readFileSync(manifestFile, 'utf8'))
  : {};

describe('prebuild portability check', () => {
  it.runIf(hostBuild)('rejects a host build: newer GLIBC versions and a dynamic libstdc++', () => {
    const why = check.portabilityProblem('linux-x64', hostBuild!);
    expect(why).toMatch(/^needs .*GLIBCXX_3\.4/);
    expect(why).toMatch(/\(at most GLIBC_2\.31\)$/);
    expect(check.portabilityProblem('linux-arm64', hostBuild!)).toBe('machine 62, expected 183');
    expect(check.portabilityProblem('win32-x64', hostBuild!)).toBe('not a PE file');
  });

  it('rejects a file that is not a binary', () => {
    expect(check.portabilityProblem('linux-x64', path.join(repoRoot, 'package.json'))).toBe('not an ELF file');
  });

  // Present after scripts/prebuilds.sh (.ci/platforms.sh), which also runs the full check-prebuilds script.
  for (const target of Object.keys(check.promised)) {
    const file = path.join(repoRoot, 'prebuilds', target, 'hotpath.node');
    it.runIf(target in manifest && fs.existsSync(file))(`accepts the release build for ${target}`, () => {
      expect(check.portabilityProblem(target, file)).toBeNull();
    });
  }
});
