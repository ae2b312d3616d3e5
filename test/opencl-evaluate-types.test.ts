// opencl.evaluate with numexpr's kinds (issue 21 after issue 18's typed rules, src/lang/typed.ts): bool,
// int32 and int64 inputs and results, wrap-around, floored integer remainders (0 for a zero divisor), shifts
// (count modulo the width), bitwise & | ~, comparisons giving bools, integer reductions. The CPU `evaluate`
// is the reference; integer results must agree exactly, including the result's typed-array class.
import { afterAll, beforeAll, describe as suite, expect, it } from 'vitest';
import { evaluate, opencl } from 'hotpath';
import { backends, rng, runCli } from './helpers.js';

const skipReason = opencl.available() ? null : opencl.unavailableReason();
if (skipReason) console.warn(`opencl.evaluate type tests skipped: ${skipReason}`);

const N = 1031;
const INT32_EDGES = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31 - 2, -(2 ** 31) + 1, 31, 32, 33, 63, 64, -32];
const INT64_EDGES = [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 31n, -(2n ** 32n), 63n, 64n, 65n, -64n];

function int32s(seed: number, bits: number): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: N }, (_, i) =>
    i < INT32_EDGES.length ? INT32_EDGES[(i + seed) % INT32_EDGES.length] : Math.floor((r() - 0.5) * 2 ** bits),
  );
}

function int64s(seed: number): BigInt64Array {
  const r = rng(seed);
  const random = () =>
    BigInt.asIntN(64, (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32)));
  return BigInt64Array.from({ length: N }, (_, i) =>
    i < INT64_EDGES.length ? INT64_EDGES[(i + seed) % INT64_EDGES.length] : i % 3 ? random() : BigInt(i % 70) - 35n,
  );
}

function bools(seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: N }, () => (r() < 0.5 ? 1 : 0));
}

const integerExpressions = [
  'i + j',
  'i - j * k',
  '-i + i * i',
  'i % j',
  'i % 7 - j % -3',
  'i << k',
  'i >> k',
  '(i & j) | ~k',
  'minimum(i, j) - maximum(j, k)',
  'where(i > j, i, k)',
  'i / j + 1',
  'i ** 2 * j ** 3',
  '(i < j) + (i == k)',
  'abs(i) + floor(j)',
];

suite.skipIf(skipReason !== null)('opencl.evaluate computes in the CPU evaluate’s kinds', () => {
  let ctx: opencl.Context;
  beforeAll(() => {
    ctx = opencl.createContext();
  });
  afterAll(() => ctx.release());

  const check = async (expr: string, vars: Record<string, unknown>, backend: (typeof backends)[number]) => {
    const want = evaluate(expr, vars as never, { backend });
    const got = await opencl.evaluate(expr, vars as never, { context: ctx });
    if (ArrayBuffer.isView(want)) expect(got, expr).toBeInstanceOf(want.constructor);
    expect(got, expr).toEqual(want);
  };

  for (const backend of backends) {
    it(`int32 wraps, divides, shifts and compares exactly as the CPU [${backend}]`, async () => {
      // Full-range values wrap on + - * and neg; small shift counts and divisors exercise % and shifts.
      const vars = { i: int32s(1, 32), j: int32s(2, 32), k: int32s(3, 7) };
      for (const expr of integerExpressions) await check(expr, vars, backend);
      // Zero divisors (k has zeros) and INT_MIN % -1.
      await check('i % k', { i: Int32Array.of(7, -7, -(2 ** 31), 5, 0), k: Int32Array.of(0, 3, -1, -2, 0) }, backend);
    });

    it(`int64 (BigInt64Array and bigint scalars) wraps and shifts exactly as the CPU [${backend}]`, async () => {
      const vars = { i: int64s(4), j: int64s(5), k: BigInt64Array.from(int32s(6, 8), BigInt) };
      for (const expr of integerExpressions) await check(expr, vars, backend);
      await check('i * s + j', { i: int64s(7), j: int64s(8), s: 3n }, backend);
      // int32 meets int64: int64 (numexpr's long); Uint32Array reads as int64.
      await check('i + j', { i: int32s(9, 32), j: int64s(10) }, backend);
      await check('u * u - i', { u: Uint32Array.from(int32s(11, 32)), i: int32s(12, 32) }, backend);
    });
  }

  it('reads bool arrays, booleans and the small integer types, and returns bools as Uint8Array', async () => {
    const vars = {
      p: { data: bools(13), dtype: 'bool' as const },
      q: Array.from(bools(14), Boolean),
      t: true,
      b8: Int8Array.from(int32s(15, 8)),
      u8: Uint8Array.from(int32s(16, 8)),
      h: Int16Array.from(int32s(17, 16)),
      w: Uint16Array.from(int32s(18, 16)),
      c: Uint8ClampedArray.from(bools(19)),
    };
    for (const expr of [
      'p & q | ~t',
      'p + q',
      '~p',
      'where(p, b8, u8)',
      'h * w + c',
      '(h > w) & p',
      'p * 2.5',
      'b8 << 3',
    ]) {
      await check(expr, vars, 'js');
    }
    expect(await opencl.evaluate('a < 0.5', { a: Float64Array.of(0, 1) }, { context: ctx })).toEqual(
      Uint8Array.of(1, 0),
    );
  });

  it('reduces integers like the CPU: wrapping sums and products, bigint results for int64, bool counts', async () => {
    const i = int32s(20, 32);
    const l = int64s(21);
    const p = { data: bools(22), dtype: 'bool' as const };
    for (const expr of ['sum(i)', 'prod(i | 1)', 'min(i)', 'max(i * 3)', 'mean(i)']) {
      expect(await opencl.evaluate(expr, { i }, { context: ctx }), expr).toEqual(evaluate(expr, { i }));
    }
    for (const expr of ['sum(l)', 'prod(l | 1)', 'min(l)', 'max(l - 1)']) {
      const want = evaluate(expr, { l });
      expect(typeof want).toBe('bigint');
      expect(await opencl.evaluate(expr, { l }, { context: ctx }), expr).toBe(want);
    }
    expect(await opencl.evaluate('sum(p)', { p }, { context: ctx })).toBe(evaluate('sum(p)', { p }));
    // An empty Array is an empty bool array, as on the CPU.
    expect(await opencl.evaluate('sum(p)', { p: [] }, { context: ctx })).toBe(evaluate('sum(p)', { p: [] }));
    expect(await opencl.evaluate('sum(l)', { l: new BigInt64Array(0) }, { context: ctx })).toBe(0n);
    // axis= reductions of integers are float64, as on the CPU.
    const nd = { data: i, shape: [1031] };
    expect(await opencl.evaluate('sum(a * 2, axis=0)', { a: nd }, { context: ctx })).toBe(
      evaluate('sum(a * 2, axis=0)', { a: nd }),
    );
  });

  it('writes integer results into out and Buffers, and reads int Buffers', async () => {
    const i = int32s(23, 32);
    const out = new Int32Array(N);
    expect(await opencl.evaluate('i * 3', { i }, { context: ctx, out })).toBe(out);
    expect(out).toEqual(evaluate('i * 3', { i }));
    await expect(opencl.evaluate('i * 3', { i }, { context: ctx, out: new Float64Array(N) })).rejects.toThrow(
      /out must be a Int32Array or a int Buffer/,
    );
    const onDevice = ctx.buffer(int64s(24));
    const target = ctx.buffer(N * 8, { type: 'long' });
    try {
      expect(await opencl.evaluate('l >> 3', { l: onDevice }, { context: ctx, out: target })).toBe(target);
      expect(await target.read()).toEqual(evaluate('l >> 3', { l: int64s(24) }));
    } finally {
      onDevice.release();
      target.release();
    }
  });

  it('refuses what the CPU refuses: shifts of floats, negative integer powers, out-of-range bigints', async () => {
    const a = new Float64Array(3);
    const i = new Int32Array(3);
    await expect(opencl.evaluate('a << 1', { a }, { context: ctx })).rejects.toThrow(/shifts take integer operands/);
    await expect(opencl.evaluate('i ** -1', { i }, { context: ctx })).rejects.toThrow(/negative integer powers/);
    await expect(opencl.evaluate('i + s', { i, s: 2n ** 63n }, { context: ctx })).rejects.toThrow(RangeError);
  });

  it('says which type a device cannot run: int64 without 64-bit integers, float64 without fp64', async () => {
    // pocl has both: pose as an embedded-profile device without cles_khr_int64 (restored below).
    const device = ctx.device as { int64: boolean };
    device.int64 = false;
    try {
      await expect(opencl.evaluate('l + 1', { l: int64s(25) }, { context: ctx })).rejects.toThrow(
        new TypeError(
          `opencl.evaluate: ${ctx.device.name} has no 64-bit integers (an embedded-profile device without ` +
            'cles_khr_int64), which these inputs need (int64 values, BigInt64Array or Uint32Array data, or a count ' +
            'of booleans)',
        ),
      );
      await expect(opencl.evaluate('i + s', { i: int32s(26, 8), s: 1n }, { context: ctx })).rejects.toThrow(TypeError);
      // int32 and bool programs still run.
      expect(await opencl.evaluate('i * 2', { i: int32s(27, 8) }, { context: ctx })).toEqual(
        evaluate('i * 2', { i: int32s(27, 8) }),
      );
    } finally {
      device.int64 = true;
    }
    expect(ctx.device.int64).toBe(true); // pocl's CPU device: full profile
    // hotpath doctor reports it per device.
    const report = JSON.parse(runCli(['doctor', '--json']).stdout);
    const devices = report.opencl.platforms.flatMap((p: { devices: { int64: boolean }[] }) => p.devices);
    expect(devices.map((d: { int64: boolean }) => d.int64)).toContain(true);
  });
});
