import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe as suite, expect, it } from 'vitest';
import { backend, nativePath, opencl } from 'hotpath';
import { repoRoot, rng } from './helpers.js';

// Runs on pocl in CI; skipped (with the reason printed) only where no OpenCL platform exists.
const skipReason = opencl.available() ? null : opencl.unavailableReason();
if (skipReason) console.warn(`OpenCL tests skipped: ${skipReason}`);

const saxpySource = `
#pragma OPENCL FP_CONTRACT OFF
__kernel void saxpy(const float a, __global const float *x, __global float *y, const uint n) {
  const size_t i = get_global_id(0);
  if (i < n) y[i] = a * x[i] + y[i];
}
__kernel void fill(__global int *out, const int value, __local int *scratch) {
  scratch[get_local_id(0)] = value;
  barrier(CLK_LOCAL_MEM_FENCE);
  out[get_global_id(1) * get_global_size(0) + get_global_id(0)] = scratch[get_local_id(0)] + (int)get_global_id(0);
}
__kernel void spin(__global float *out, const uint iterations) {
  float v = 0;
  for (uint k = 0; k < iterations; k++) v = v * 0.5f + 1.0f;
  out[get_global_id(0)] = v;
}`;

function randomFloat32(seed: number, n: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r() * 200 - 100);
}

suite.skipIf(skipReason !== null)('opencl low-level API', () => {
  let ctx: opencl.Context;
  let program: opencl.Program;
  beforeAll(async () => {
    ctx = opencl.createContext();
    program = await ctx.program(saxpySource);
  });
  afterAll(() => {
    program.release();
    ctx.release();
  });

  it('lists platforms and devices with their properties', () => {
    const platforms = opencl.platforms();
    expect(platforms.length).toBeGreaterThan(0);
    const all = opencl.devices();
    expect(all.length).toBeGreaterThan(0);
    for (const device of all) {
      expect(device.name.length).toBeGreaterThan(0);
      expect(['cpu', 'gpu', 'accelerator', 'custom']).toContain(device.type);
      expect(device.computeUnits).toBeGreaterThan(0);
      expect(device.globalMemory).toBeGreaterThan(0);
      expect(device.localMemory).toBeGreaterThan(0);
      expect(device.maxWorkGroupSize).toBeGreaterThan(0);
      expect(device.maxWorkItemSizes).toHaveLength(3);
      expect(typeof device.fp64).toBe('boolean');
      expect(device.platform.devices()).toContain(device);
    }
    expect(opencl.devices({ type: 'cpu' }).every((d) => d.type === 'cpu')).toBe(true);
    expect(ctx.device).toBe(opencl.defaultDevice());
    expect(() => opencl.devices({ type: 'fpga' as never })).toThrow(RangeError);
    expect(() => opencl.createContext('gpu' as never)).toThrow(TypeError);
  });

  it('round-trips typed arrays, subarray views and byte offsets', async () => {
    const values = randomFloat32(1, 1001);
    const buffer = ctx.buffer(values);
    expect([buffer.byteLength, buffer.length, buffer.type]).toEqual([4004, 1001, 'float']);
    expect(await buffer.read()).toEqual(values);
    const view = values.subarray(10, 20);
    await buffer.write(view, { byteOffset: 400 });
    const into = new Float32Array(12);
    expect(await buffer.read(into, { byteOffset: 396 })).toBe(into);
    expect(into[0]).toBe(values[99]);
    expect(into.subarray(1, 11)).toEqual(view);
    expect(into[11]).toBe(values[110]);
    const longs = BigInt64Array.from([-(2n ** 62n), 0n, 7n]);
    expect(await ctx.buffer(longs).read()).toEqual(longs);
    const doubles = Float64Array.from([Math.PI, NaN, -Infinity, -0]);
    expect(await ctx.buffer(doubles).read()).toEqual(doubles);
    const bytes = ctx.buffer(16);
    expect([bytes.type, bytes.length]).toEqual(['uchar', 16]);
    expect(await bytes.read(new Uint8Array(0))).toHaveLength(0);
    for (const b of [buffer, bytes]) b.release();
  });

  it('rejects bad buffers and transfers with precise errors', async () => {
    expect(() => ctx.buffer(new Float32Array(0))).toThrow(/cannot be empty/);
    expect(() => ctx.buffer(0)).toThrow(RangeError);
    expect(() => ctx.buffer(1.5)).toThrow(RangeError);
    expect(() => ctx.buffer([1, 2] as never)).toThrow(TypeError);
    expect(() => ctx.buffer(8, { access: 'rw' as never })).toThrow(/access must be one of/);
    expect(() => ctx.buffer(6, { type: 'float' })).toThrow(/not a multiple of 4/);
    expect(() => ctx.buffer(new Int32Array(2), { type: 'float' })).toThrow(TypeError);
    expect(() => ctx.buffer(ctx.device.maxAllocation + 8)).toThrow(/CL_DEVICE_MAX_MEM_ALLOC_SIZE/);
    const buffer = ctx.buffer(new Float32Array(4));
    expect(() => buffer.write(new Float32Array(5))).toThrow(/20 bytes at byteOffset 0 exceed the buffer's 16 bytes/);
    expect(() => buffer.write(new Float32Array(1), { byteOffset: 13 })).toThrow(RangeError);
    expect(() => buffer.read(new Float32Array(1), { byteOffset: -4 })).toThrow(RangeError);
    expect(() => buffer.write([1] as never)).toThrow(TypeError);
    buffer.release();
  });

  it('runs a kernel and matches float32 arithmetic bit for bit', async () => {
    const n = 5003;
    const x = randomFloat32(2, n);
    const y = randomFloat32(3, n);
    const bx = ctx.buffer(x, { access: 'read_only' });
    const by = ctx.buffer(y);
    const saxpy = program.kernel('saxpy');
    expect(saxpy.args?.map((a) => `${a.addressSpace} ${a.type} ${a.name}`)).toEqual([
      'private float a',
      'global float* x',
      'global float* y',
      'private uint n',
    ]);
    await saxpy.run({ global: n, args: [2.5, bx, by, n] });
    const got = await by.read();
    const want = y.map((v, i) => Math.fround(Math.fround(2.5 * x[i]) + v));
    expect(got).toEqual(want);
    // An explicit work-group size that divides a padded global size.
    await saxpy.run({ global: 5120, local: 64, args: [-1, bx, by, n] });
    expect(await by.read()).toEqual(want.map((v, i) => Math.fround(Math.fround(-1 * x[i]) + v)));
    for (const o of [saxpy, bx, by]) o.release();
  });

  it('passes __local allocations, typed-array scalars and 2-D work sizes', async () => {
    const fill = program.kernel('fill');
    const out = ctx.buffer(new Int32Array(64));
    await fill.run({ global: [8, 8], local: [8, 1], args: [out, Int32Array.of(-5), { local: 32 }] });
    expect(Array.from(await out.read())).toEqual(Array.from({ length: 64 }, (_, i) => -5 + (i % 8)));
    for (const o of [fill, out]) o.release();
  });

  it('checks kernel arguments and work sizes before enqueueing', () => {
    const saxpy = program.kernel('saxpy');
    const fill = program.kernel('fill');
    const b = ctx.buffer(new Float32Array(8));
    const ints = ctx.buffer(new Int32Array(8));
    expect(() => saxpy.run({ global: 8, args: [1, b, b] })).toThrow(/takes 4 arguments \(a, x, y, n\), got 3/);
    expect(() => saxpy.run({ global: 8, args: [b, b, b, 8] })).toThrow(/argument 0 \(float a\) is not a pointer/);
    expect(() => saxpy.run({ global: 8, args: [1, 2, b, 8] })).toThrow(
      /argument 1 \(float\* x\) must be a Buffer, got number/,
    );
    expect(() => saxpy.run({ global: 8, args: [1, b, b, -1] })).toThrow(
      /uint must be an integer in \[0, 4294967295\], got -1/,
    );
    expect(() => saxpy.run({ global: 8, args: [1n, b, b, 8] })).toThrow(TypeError);
    expect(() => saxpy.run({ global: 8, args: ['1', b, b, 8] as never })).toThrow(TypeError);
    expect(() => fill.run({ global: 8, args: [ints, 1, 4] })).toThrow(/must be \{ local: bytes \}/);
    expect(() => fill.run({ global: 8, args: [ints, { local: 4 }, { local: 4 }] })).toThrow(/not a __local pointer/);
    expect(() => fill.run({ global: 8, args: [ints, 1, { local: 0 }] })).toThrow(RangeError);
    const args = [1, b, b, 8];
    expect(() => saxpy.run({ global: 0, args })).toThrow(/integers >= 1, got 0/);
    expect(() => saxpy.run({ global: [1, 1, 1, 1], args })).toThrow(/1 to 3 dimensions/);
    expect(() => saxpy.run({ global: 'x' as never, args })).toThrow(TypeError);
    expect(() => saxpy.run({ global: 12, local: 8, args })).toThrow(
      /global\[0\] = 12 is not a multiple of local\[0\] = 8/,
    );
    const tooWide = ctx.device.maxWorkItemSizes[0] * 2;
    expect(() => saxpy.run({ global: tooWide, local: tooWide, args })).toThrow(/CL_DEVICE_MAX_WORK_ITEM_SIZES\[0\]/);
    expect(() => saxpy.run({ global: [8, 8], local: [8], args })).toThrow(RangeError);
    const other = opencl.createContext(ctx.device);
    const foreign = other.buffer(new Float32Array(8));
    expect(() => saxpy.run({ global: 8, args: [1, foreign, b, 8] })).toThrow(/belongs to another Context/);
    for (const o of [foreign, other, saxpy, fill, b, ints]) o.release();
  });

  it('turns build failures into a BuildError carrying the log', async () => {
    const error = await ctx
      .program('__kernel void broken(__global float *x) { x[0] = undeclared_name; }')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(opencl.BuildError);
    expect(error).toBeInstanceOf(Error);
    expect((error as opencl.BuildError).buildLog).toMatch(/undeclared_name/);
    expect((error as Error).message).toMatch(/build failed on/);
    await expect(
      ctx.program('__kernel void k(__global int *x) { x[0] = N; }', { options: ['-D', 'N=3'] }),
    ).resolves.toBeInstanceOf(opencl.Program);
    await expect(ctx.program(42 as never)).rejects.toThrow(TypeError);
    expect(() => program.kernel('missing')).toThrow(/no kernel named 'missing'/);
  });

  it('makes release twice or use after release an Error, never a crash', async () => {
    const other = opencl.createContext();
    const buffer = other.buffer(new Float32Array(4));
    const kernel = program.kernel('saxpy');
    buffer.release();
    expect(buffer.released).toBe(true);
    expect(() => buffer.release()).toThrow(/Buffer has been released/);
    expect(() => buffer.read()).toThrow(/Buffer has been released/);
    kernel.release();
    expect(() => kernel.run({ global: 1, args: [] })).toThrow(/Kernel has been released/);
    other.release();
    expect(() => other.buffer(4)).toThrow(/Context has been released/);
    await expect(other.program('__kernel void k() {}')).rejects.toThrow(/Context has been released/);
    {
      using scoped = ctx.buffer(4);
      expect(scoped.released).toBe(false);
    }
  });

  it('settles promises from the device without blocking the event loop', async () => {
    const out = ctx.buffer(new Float32Array(4));
    const kernel = program.kernel('spin');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    // Enough device work to take well over a millisecond; the timer must fire meanwhile.
    await kernel.run({ global: 4, args: [out, 20_000_000] });
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
    expect(Array.from(await out.read())).toEqual([2, 2, 2, 2]);
    // Many commands in flight at once all settle with their own results.
    const buffers = Array.from({ length: 32 }, (_, i) => ctx.buffer(Int32Array.of(i, -i)));
    const results = await Promise.all(buffers.map((b) => b.read()));
    expect(results.map((r) => Array.from(r))).toEqual(buffers.map((_, i) => Array.from(Int32Array.of(i, -i))));
    for (const o of [kernel, out, ...buffers]) o.release();
  });

  it('does not grow RSS over 10k buffers, 10k kernels and 40 programs', async () => {
    const rss = () => process.memoryUsage().rss;
    const data = new Float32Array(16_384); // 64 KiB: 10k leaked buffers would be 640 MiB
    const source = '__kernel void k(__global float *y) { y[get_global_id(0)] = 1; }';
    // Warm-up: allocator pools and the compiler's caches reach their steady size.
    for (let i = 0; i < 500; i++) ctx.buffer(data).release();
    for (let i = 0; i < 10; i++) (await ctx.program(source)).release();
    const before = rss();
    for (let i = 0; i < 10_000; i++) ctx.buffer(data).release();
    const built = await ctx.program(source);
    for (let i = 0; i < 10_000; i++) built.kernel('k').release();
    built.release();
    // Each build takes milliseconds even from pocl's cache, so fewer programs than buffers.
    for (let i = 0; i < 40; i++) (await ctx.program(source)).release();
    expect(rss() - before).toBeLessThan(64 * 2 ** 20);
  });
});

suite.skipIf(skipReason !== null || !nativePath)('opencl native binding argument checks', () => {
  // The raw addon validates everything itself: a wrong argument is a JS error, never an abort.
  it('rejects wrong handles, types and sizes', async () => {
    const addon = createRequire(__filename)(nativePath!);
    const ctx = addon.openclCreateContext(0);
    const buffer = addon.openclCreateBuffer(ctx, 0, 16);
    expect(() => addon.openclCreateContext(-1)).toThrow(RangeError);
    expect(() => addon.openclCreateContext(1e6)).toThrow(/device index 1000000 does not exist/);
    expect(() => addon.openclCreateBuffer({}, 0, 16)).toThrow(/context must be an OpenCL handle/);
    // The addon's other Externals (count-min pipelines) are told apart by their type tags, both ways.
    const pipeline = addon.countminPipelineOpen(false);
    expect(() => addon.openclCreateBuffer(pipeline, 0, 16)).toThrow(/context must be an OpenCL handle/);
    expect(() => addon.openclRelease(pipeline)).toThrow(TypeError);
    expect(() => addon.countminPipelineClose(ctx, null, null, null)).toThrow(/pipeline must be a pipeline handle/);
    addon.countminPipelineClose(pipeline, null, null, null);
    expect(() => addon.openclCreateBuffer(buffer, 0, 16)).toThrow(/context must be a Context, got a Buffer/);
    expect(() => addon.openclCreateBuffer(ctx, 3, 16)).toThrow(RangeError);
    expect(() => addon.openclCreateBuffer(ctx, 0, 0)).toThrow(RangeError);
    expect(() => addon.openclCreateBuffer(ctx, 0, 8, new Float64Array(2))).toThrow(/exactly byteLength bytes/);
    expect(() => addon.openclWriteBuffer(ctx, buffer, new Float64Array(3), 0)).toThrow(RangeError);
    expect(() => addon.openclReadBuffer(ctx, buffer, 'x', 0)).toThrow(TypeError);
    const detached = new Float64Array(2);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    await expect(addon.openclWriteBuffer(ctx, buffer, detached, 0)).resolves.toBeUndefined(); // 0 bytes now
    expect(() => addon.openclBuildProgram(ctx, 42, '')).toThrow(TypeError);
    expect(() => addon.openclCreateKernel(ctx, 'k')).toThrow(/program must be a Program, got a Context/);
    expect(() => addon.openclRunKernel(ctx, buffer, [], [1], null)).toThrow(/kernel must be a Kernel/);
    const program = await addon.openclBuildProgram(ctx, '__kernel void k(__global int *x, int v) { x[0] = v; }', '');
    const kernel = addon.openclCreateKernel(program, 'k').handle;
    expect(() => addon.openclRunKernel(ctx, kernel, [buffer], [1], null)).toThrow(/takes 2 arguments, got 1/);
    expect(() => addon.openclRunKernel(ctx, kernel, [buffer, 'x'], [1], null)).toThrow(TypeError);
    expect(() => addon.openclRunKernel(ctx, kernel, [buffer, Int8Array.of(1)], [1], null)).toThrow(
      /argument 1: clSetKernelArg failed/,
    );
    expect(() => addon.openclRunKernel(ctx, kernel, [buffer, Int32Array.of(1)], [0], null)).toThrow(RangeError);
    expect(() => addon.openclRunKernel(ctx, kernel, [buffer, Int32Array.of(1)], [1, 1, 1, 1], null)).toThrow(
      RangeError,
    );
    await addon.openclRunKernel(ctx, kernel, [buffer, Int32Array.of(9)], [1], null);
    expect((await addon.openclReadBuffer(ctx, buffer, new Int32Array(1), 0))[0]).toBe(9);
    addon.openclRelease(buffer);
    expect(() => addon.openclRelease(buffer)).toThrow(/already been released/);
    expect(() => addon.openclRunKernel(ctx, kernel, [buffer, Int32Array.of(1)], [1], null)).toThrow(
      /Buffer has been released/,
    );
    for (const h of [kernel, program, ctx]) addon.openclRelease(h);
  });
});

suite.skipIf(skipReason !== null)('opencl in worker threads', () => {
  it('discovers devices and runs kernels from several workers at once', () => {
    // Each worker's first use races the others' through discovery (guarded by one process-wide lock).
    const script = `
      const { Worker } = require('node:worker_threads');
      const body = \`
        const { parentPort, workerData } = require('node:worker_threads');
        const { opencl } = require('hotpath');
        const ctx = opencl.createContext();
        const k = new opencl.ElementwiseKernel(ctx, 'int *x, int add', 'x[i] += add');
        const b = ctx.buffer(new Int32Array(64).fill(workerData));
        k.run([b, 1]).then(() => b.read()).then((out) => parentPort.postMessage(out[63]));\`;
      Promise.all([1, 2, 3, 4].map((id) => new Promise((resolve, reject) => {
        new Worker(body, { eval: true, workerData: id * 10 }).once('message', resolve).once('error', reject);
      }))).then((r) => console.log(JSON.stringify(r)));`;
    const r = spawnSync(process.execPath, ['-e', script], { cwd: repoRoot, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([11, 21, 31, 41]);
  });
});

suite('opencl without libOpenCL', () => {
  it('reports why it is unavailable and every other capability still works', () => {
    const script = `
      const h = require('hotpath');
      const out = {
        available: h.opencl.available(),
        reason: h.opencl.unavailableReason(),
        mean: h.describe([1, 2, 3]).mean,
      };
      try { h.opencl.createContext(); } catch (e) { out.error = e.message; }
      console.log(JSON.stringify(out));`;
    const r = spawnSync(process.execPath, ['-e', script], {
      cwd: repoRoot,
      encoding: 'utf8',
      // No loader and no registered vendor driver either (else the direct ICD path would find pocl).
      env: {
        ...process.env,
        HOTPATH_OPENCL_LIBRARY: 'libhotpath-missing-opencl.so.1',
        HOTPATH_OPENCL_VENDORS: '/nonexistent-hotpath-vendors',
      },
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.available).toBe(false);
    expect(out.mean).toBe(2);
    const why =
      backend === 'native'
        ? new RegExp(
            'cannot load libhotpath-missing-opencl\\.so\\.1: .*; ' +
              'no vendor driver is registered in /nonexistent-hotpath-vendors',
          )
        : /native addon is not loaded/;
    expect(out.reason).toMatch(why);
    expect(out.error).toMatch(/OpenCL is not available/);
  });
});
