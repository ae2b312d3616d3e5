// scripts/install.js, the npm "install" script: a failed native build must not fail `npm install` (issue 19:
// a tarball without a matching prebuild, installed with no compiler, used to exit 1 with `gyp ERR! not ok`).
// Each case copies the script into an empty package whose node-gyp is a stub, so no compiler is involved;
// .ci/platforms.sh does the same end to end with a real tarball and a PATH without a compiler.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repoRoot } from './helpers.js';

const packages: string[] = [];
afterEach(() => {
  for (const dir of packages.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A package with only scripts/install.js, and a node-gyp stub that prints `output` and exits with `status`. */
function stubPackage(output: string, status: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-install-'));
  packages.push(dir);
  fs.mkdirSync(path.join(dir, 'scripts'));
  fs.copyFileSync(path.join(repoRoot, 'scripts/install.js'), path.join(dir, 'scripts/install.js'));
  const stub = path.join(dir, 'node-gyp-stub.js');
  fs.writeFileSync(
    stub,
    `require('fs').writeFileSync(${JSON.stringify(path.join(dir, 'node-gyp-ran'))}, '');\n` +
      `process.stderr.write(${JSON.stringify(output)}); process.exit(${status});\n`,
  );
  const run = (env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [path.join(dir, 'scripts/install.js')], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, HOTPATH_BACKEND: '', npm_config_build_from_source: '', ...env, npm_config_node_gyp: stub },
    });
  return { dir, run, ran: () => fs.existsSync(path.join(dir, 'node-gyp-ran')) };
}

const noMake = 'gyp info it worked if it ends with ok\ngyp ERR! stack Error: not found: make\ngyp ERR! not ok\n';

describe('npm install script', () => {
  it('a failed source build prints one line naming the platform and the reason, keeps the log, exits 0', () => {
    const pkg = stubPackage(noMake, 1);
    const result = pkg.run();
    expect(result.status, result.stderr).toBe(0);
    expect(pkg.ran()).toBe(true);
    expect(result.stderr).toBe(
      `hotpath: no prebuilt binary for ${process.platform}-${process.arch}; native build failed (not found: make); ` +
        'using the pure-TS backend — see `npx hotpath doctor`\n',
    );
    expect(fs.readFileSync(path.join(pkg.dir, 'native-build.log'), 'utf8')).toBe(noMake);
  });

  it('reports the first compiler error as the reason', () => {
    const output =
      'In file included from ../native/opencl/opencl_api.cc:2:\n' +
      '../native/opencl/opencl_api.h:7:10: fatal error: CL/cl.h: No such file or directory\n' +
      'make: *** [hotpath.target.mk:140: Release/obj.target/hotpath/native/opencl/opencl_api.o] Error 1\n' +
      'gyp ERR! build error\ngyp ERR! stack Error: `make` failed with exit code: 2\n';
    const result = stubPackage(output, 1).run();
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/native build failed \(fatal error: CL\/cl\.h: No such file or directory\)/);
  });

  it('HOTPATH_BACKEND=native makes a failed build a failed install', () => {
    const result = stubPackage(noMake, 1).run({ HOTPATH_BACKEND: 'native' });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/HOTPATH_BACKEND=native but the native build failed \(not found: make\)/);
  });

  it('HOTPATH_BACKEND=js skips the build', () => {
    const pkg = stubPackage(noMake, 1);
    const result = pkg.run({ HOTPATH_BACKEND: 'js' });
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('');
    expect(pkg.ran()).toBe(false);
  });

  it('a build that succeeds but whose addon does not load is reported as such', () => {
    const pkg = stubPackage('gyp info ok\n', 0);
    const result = pkg.run();
    expect(result.status).toBe(0);
    expect(pkg.ran()).toBe(true);
    expect(result.stderr).toMatch(/native build failed \(the built addon does not load\)/);
  });
});
