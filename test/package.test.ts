import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers.js';

function node(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, args, { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, ...env } });
}

describe('package entry points', () => {
  it('loads through require() and import by self-reference with the same exports', () => {
    const cjs = node(['-e', "const h = require('hotpath'); console.log(JSON.stringify(Object.keys(h).sort()))"]);
    const esm = node([
      '--input-type=module',
      '-e',
      "import * as h from 'hotpath'; console.log(JSON.stringify(Object.keys(h).filter(k => k !== 'default').sort()))",
    ]);
    expect(cjs.status, cjs.stderr).toBe(0);
    expect(esm.status, esm.stderr).toBe(0);
    const names = JSON.parse(cjs.stdout);
    expect(names).toEqual(
      expect.arrayContaining(['Moments', 'backend', 'describe', 'describeAsync', 'nativeLoadError']),
    );
    expect(JSON.parse(esm.stdout)).toEqual(names);
  });

  it('ships type declarations for the entry point', () => {
    const dts = fs.readFileSync(`${repoRoot}/dist/index.d.ts`, 'utf8');
    expect(dts).toMatch(/moments/);
  });

  it('HOTPATH_BACKEND=native makes a failed load an error; js forces the fallback', () => {
    const broken = node(['-e', "require('hotpath')"], {
      HOTPATH_BACKEND: 'native',
      HOTPATH_NATIVE_PATH: '/nonexistent/hotpath.node',
    });
    expect(broken.status).not.toBe(0);
    expect(broken.stderr).toMatch(/HOTPATH_BACKEND=native but the native addon failed to load/);
    const fallback = node(['-e', "const h = require('hotpath'); console.log(h.backend, h.nativeLoadError.message)"], {
      HOTPATH_BACKEND: '',
      HOTPATH_NATIVE_PATH: '/nonexistent/hotpath.node',
    });
    expect(fallback.stdout).toMatch(/^js .*nonexistent/);
    const bogus = node(['-e', "require('hotpath')"], { HOTPATH_BACKEND: 'gpu' });
    expect(bogus.stderr).toMatch(/HOTPATH_BACKEND must be 'js' or 'native'/);
  });

  it('native/sources.json lists exactly the C++ sources under native/', () => {
    const listed = JSON.parse(fs.readFileSync(`${repoRoot}/native/sources.json`, 'utf8')).sort();
    const onDisk = (fs.readdirSync(`${repoRoot}/native`, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.cc'))
      .map((f) => `native/${f}`)
      .sort();
    expect(listed).toEqual(onDisk);
  });

  // Kernels and the shared plain-C++ helpers build and run without Node: they throw hotpath::TypeError/RangeError
  // (native/common/errors.h) and only the bindings convert those to JavaScript errors (napi_errors.h).
  it('plain-C++ native files reach no N-API header through their includes', () => {
    const native = `${repoRoot}/native`;
    const files = (fs.readdirSync(native, { recursive: true }) as string[]).filter((f) => !f.startsWith('third_party'));
    const plain = files.filter(
      (f) =>
        /_kernel\.(cc|h)$/.test(f) ||
        /^common\/(errors\.h|memory\.(cc|h)|thread_pool\.(cc|h))$/.test(f) ||
        /^(expr\/vector_math\.h|opencl\/opencl_(api|discovery)\.(cc|h))$/.test(f),
    );
    expect(plain.filter((f) => f.endsWith('_kernel.cc')).length).toBeGreaterThanOrEqual(3);
    const napiHeaders = /#include\s*[<"](napi|node_api|js_native_api)\.h[>"]/;
    const offenders: string[] = [];
    for (const start of plain) {
      const seen = new Set<string>();
      const visit = (file: string, chain: string[]) => {
        if (seen.has(file)) return;
        seen.add(file);
        const text = fs.readFileSync(`${native}/${file}`, 'utf8');
        if (napiHeaders.test(text)) offenders.push([...chain, file].join(' -> '));
        for (const [, include] of text.matchAll(/^#include\s+"([^"]+)"/gm)) {
          const target = path.normalize(path.join(path.dirname(file), include));
          if (fs.existsSync(`${native}/${target}`)) visit(target, [...chain, file]);
        }
      };
      visit(start, []);
    }
    expect(offenders).toEqual([]);
  });
});
