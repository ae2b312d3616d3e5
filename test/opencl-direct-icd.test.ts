// GPU machines often carry the vendor driver (e.g. /etc/OpenCL/vendors/nvidia.icd naming
// libnvidia-opencl.so.1) but no ICD loader libOpenCL.so.1. There hotpath opens the registered drivers
// itself and dispatches through their cl_khr_icd tables. Here the loader is hidden from a child
// process (a missing HOTPATH_OPENCL_LIBRARY, or a private mount namespace where libOpenCL.so.1 is
// /dev/null) and pocl's registered ICD must then do the same work as through the loader.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe as suite, expect, it } from 'vitest';
import { backend, opencl } from 'hotpath';
import { repoRoot, runCli } from './helpers.js';

const vendorDir = '/etc/OpenCL/vendors';
const registered = fs.existsSync(vendorDir) ? fs.readdirSync(vendorDir).filter((f) => f.endsWith('.icd')) : [];
const skipReason =
  backend !== 'native'
    ? 'the native addon is not loaded'
    : !opencl.available()
      ? `OpenCL unavailable: ${opencl.unavailableReason()}`
      : registered.length === 0
        ? `no vendor driver registered in ${vendorDir}`
        : null;
if (skipReason) console.warn(`direct ICD tests skipped: ${skipReason}`);

const missingLoader = 'libhotpath-missing-opencl.so.1';

// Runs in the child: the same work as through the loader, answers compared with the CPU evaluate.
const childScript = `
  const h = require('hotpath');
  (async () => {
    const n = 1027;
    const a = Float64Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
    const b = Float64Array.from({ length: n }, (_, i) => Math.cos(i * 0.7));
    const out = { available: h.opencl.available(), reason: h.opencl.unavailableReason() };
    out.loadPath = h.opencl.loadPath();
    if (out.available) {
      out.devices = h.opencl.devices().map((d) => d.name);
      const expr = '(a * b + a) / (b - 3)';
      const device = await h.opencl.evaluate(expr, { a, b }, { precision: 'float64' });
      const cpu = h.evaluate(expr, { a, b });
      out.evaluateMatches = device.every((v, i) => Object.is(v, cpu[i]));
      out.sum = await h.opencl.evaluate('sum(a * 2)', { a });
      out.cpuSum = h.evaluate('sum(a * 2)', { a });
      const ctx = h.opencl.createContext();
      const program = await ctx.program('__kernel void twice(__global int *x) { x[get_global_id(0)] *= 2; }');
      const buffer = ctx.buffer(new Int32Array([1, 2, 3, 4]));
      await program.kernel('twice').run({ global: 4, args: [buffer] });
      out.kernel = Array.from(await buffer.read());
      try { await ctx.program('__kernel void broken( {'); } catch (e) { out.buildError = e.name; }
      ctx.release();
    }
    console.log(JSON.stringify(out));
  })().catch((e) => { console.error(e); process.exit(1); });`;

function runChild(env: NodeJS.ProcessEnv, wrap?: string[]) {
  const command = wrap ? wrap[0] : process.execPath;
  const args = wrap ? [...wrap.slice(1), process.execPath, '-e', childScript] : ['-e', childScript];
  const r = spawnSync(command, args, {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

function expectSameWorkAsLoader(out: Record<string, unknown>) {
  expect(out.available, String(out.reason)).toBe(true);
  expect(out.loadPath).toMatchObject({ via: 'direct-icd' });
  expect((out.loadPath as { libraries: string[] }).libraries.length).toBeGreaterThan(0);
  expect(out.devices).toEqual(opencl.devices().map((d) => d.name));
  expect(out.evaluateMatches).toBe(true);
  expect(out.sum).toBeCloseTo(out.cpuSum as number, 9);
  expect(out.kernel).toEqual([2, 4, 6, 8]);
  expect(out.buildError).toBe('BuildError');
}

// The ICD loader this process would open, or null. A private mount namespace (root, util-linux
// unshare) hides that file in a child.
function loaderFile(): string | null {
  try {
    const line = execFileSync('ldconfig', ['-p'], { encoding: 'utf8' })
      .split('\n')
      .find((l) => /libOpenCL\.so\.1 .*x86-64|libOpenCL\.so\.1 \(libc6,/.test(l));
    if (!line) return null;
    const file = fs.realpathSync(line.split('=>')[1].trim());
    // An ELF file, not something already hidden (e.g. /dev/null bound over it by scripts/device-run.sh's test).
    const magic = Buffer.alloc(4);
    const fd = fs.openSync(file, 'r');
    const read = fs.readSync(fd, magic, 0, 4, 0);
    fs.closeSync(fd);
    return read === 4 && magic.toString('latin1') === '\x7fELF' ? file : null;
  } catch {
    return null;
  }
}
const hiddenLoader = skipReason ? null : loaderFile();
const canUnshare = hiddenLoader !== null && spawnSync('unshare', ['-m', 'true']).status === 0;

suite.skipIf(skipReason !== null)('OpenCL without the ICD loader: vendor drivers opened directly', () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-icd-'));
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it('this process reports the path it took (the loader where ldconfig knows one)', () => {
    const expected = loaderFile() !== null ? { via: 'loader', libraries: ['libOpenCL.so.1'] } : { via: 'direct-icd' };
    expect(opencl.loadPath()).toMatchObject(expected);
  });

  it('a missing loader falls back to the drivers registered in /etc/OpenCL/vendors', () => {
    expectSameWorkAsLoader(runChild({ HOTPATH_OPENCL_LIBRARY: missingLoader }));
  });

  it.skipIf(!canUnshare)('a loader hidden by a private mount namespace falls back the same way', () => {
    const hide = `mount --bind /dev/null ${hiddenLoader} && exec "$@"`;
    const out = runChild({}, ['unshare', '-m', 'sh', '-c', hide, 'hide-loader']);
    expectSameWorkAsLoader(out);
    expect(out.reason).toBeNull();
  });

  it('two .icd files naming one driver give its platforms once', () => {
    const dir = path.join(scratch, 'twice');
    fs.mkdirSync(dir);
    const driver = fs.readFileSync(path.join(vendorDir, registered[0]), 'utf8');
    fs.writeFileSync(path.join(dir, 'a.icd'), driver);
    fs.writeFileSync(path.join(dir, 'b.icd'), `  ${driver.trim()}  \r\n`);
    const once = path.join(scratch, 'once');
    fs.mkdirSync(once);
    fs.writeFileSync(path.join(once, 'a.icd'), driver);
    const out = runChild({ HOTPATH_OPENCL_LIBRARY: missingLoader, HOTPATH_OPENCL_VENDORS: dir });
    expect(out.loadPath.libraries).toEqual([driver.trim()]);
    expect(out.devices).toEqual(
      runChild({ HOTPATH_OPENCL_LIBRARY: missingLoader, HOTPATH_OPENCL_VENDORS: once }).devices,
    );
  });

  it('drivers that cannot serve are skipped, and each one is named when none can', () => {
    const dir = path.join(scratch, 'broken');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'a-missing.icd'), 'libhotpath-no-such-driver.so\n');
    fs.writeFileSync(path.join(dir, 'b-not-opencl.icd'), 'libm.so.6\n');
    fs.writeFileSync(path.join(dir, 'ignored.txt'), 'libm.so.6\n');
    const out = runChild({ HOTPATH_OPENCL_LIBRARY: missingLoader, HOTPATH_OPENCL_VENDORS: dir });
    expect(out.available).toBe(false);
    expect(out.loadPath).toEqual({ via: null, libraries: [] });
    expect(out.reason).toMatch(new RegExp(`cannot load ${missingLoader}`));
    expect(out.reason).toMatch(/libhotpath-no-such-driver\.so: .*cannot open shared object file/);
    expect(out.reason).toMatch(/libm\.so\.6: it exports neither clGetExtensionFunctionAddress/);

    // A broken driver next to a working one: the working one serves.
    fs.writeFileSync(path.join(dir, 'c-real.icd'), fs.readFileSync(path.join(vendorDir, registered[0])));
    expect(runChild({ HOTPATH_OPENCL_LIBRARY: missingLoader, HOTPATH_OPENCL_VENDORS: dir }).available).toBe(true);
  });

  it('hotpath doctor says which path it used', () => {
    const direct = runCli(['doctor', '--json'], undefined, { HOTPATH_OPENCL_LIBRARY: missingLoader });
    expect(direct.code, direct.stderr).toBe(0);
    expect(JSON.parse(direct.stdout).opencl.loadPath.via).toBe('direct-icd');
    const table = runCli(['doctor'], undefined, { HOTPATH_OPENCL_LIBRARY: missingLoader });
    expect(table.stdout).toMatch(/opencl +vendor drivers opened directly \(no ICD loader\): /);
    if (loaderFile() !== null) expect(runCli(['doctor']).stdout).toMatch(/opencl +ICD loader: libOpenCL\.so\.1/);
  });
});
