import { describe as suite, expect, it, vi } from 'vitest';
import os from 'node:os';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import {
  CONSTANTS,
  ExpressionError,
  backend,
  compile,
  describeAsync,
  evaluate,
  evaluateAsync,
  evaluateMany,
  getNumThreads,
  nativePath,
  parseExpression,
  reEvaluate,
  setNumThreads,
  type ExpressionNode,
} from 'hotpath';
import { backends, REFERENCE_FNS, rng } from './helpers.js';

const bool = (x: boolean) => (x ? 1 : 0);
const REFERENCE_BINARY: Record<string, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '%': (a, b) => a - Math.floor(a / b) * b, // numexpr's float remainder (float inputs in these tests)
  '**': Math.pow,
  '<': (a, b) => bool(a < b),
  '<=': (a, b) => bool(a <= b),
  '==': (a, b) => bool(a === b),
  '!=': (a, b) => bool(a !== b),
  '>=': (a, b) => bool(a >= b),
  '>': (a, b) => bool(a > b),
  '&': (a, b) => bool(a !== 0 && b !== 0),
  '|': (a, b) => bool(a !== 0 || b !== 0),
};
/** A tree-walking reference over the parsed tree: one REFERENCE_FNS call per node, in float64, ** as Math.pow. */
function referenceAt(node: ExpressionNode, vars: Record<string, ArrayLike<number> | number>, i: number): number {
  switch (node.kind) {
    case 'number':
      return node.value;
    case 'variable': {
      const v = Object.prototype.hasOwnProperty.call(vars, node.name) ? vars[node.name] : CONSTANTS[node.name];
      return typeof v === 'number' ? v : v[i];
    }
    case 'unary': {
      const x = referenceAt(node.operand, vars, i);
      return node.op === '-' ? -x : bool(x === 0);
    }
    case 'binary':
      return REFERENCE_BINARY[node.op](referenceAt(node.left, vars, i), referenceAt(node.right, vars, i));
    case 'call':
      return REFERENCE_FNS[node.fn](...node.args.map((a) => referenceAt(a, vars, i)));
  }
}
function reference(expr: string, vars: Record<string, ArrayLike<number> | number>, n: number): Float64Array {
  const tree = parseExpression(expr);
  return Float64Array.from({ length: n }, (_, i) => referenceAt(tree, vars, i));
}

/**
 * Equal within `ulps` float64 units in the last place of max(|expected|, 1): results near zero come
 * from cancellation, where an ulp of difference in an operand is an ulp of the operands' scale.
 * NaN equals NaN; infinities must match exactly; ulps = 0 demands identical values.
 */
function closeUlps(actual: number, expected: number, ulps: number): boolean {
  if (Number.isNaN(expected) || Number.isNaN(actual)) return Number.isNaN(expected) && Number.isNaN(actual);
  if (!Number.isFinite(expected) || !Number.isFinite(actual)) return actual === expected;
  return Math.abs(actual - expected) <= ulps * Number.EPSILON * Math.max(Math.abs(expected), 1);
}
function expectArrayClose(actual: ArrayLike<number>, expected: ArrayLike<number>, ulps: number, label = ''): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!closeUlps(actual[i], expected[i], ulps)) {
      expect.fail(`${label}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

function randomArray(seed: number, n: number, scale = 4, offset = -2): Float64Array {
  const r = rng(seed);
  return Float64Array.from({ length: n }, () => offset + r() * scale);
}

// Random expressions over a, b, c. + - * / and the comparisons/logic are exact IEEE operations
// in every backend, so with those only the result must equal the reference bit for bit.
function randomExpression(r: () => number, depth: number, exactOnly: boolean): string {
  const leaf = () => (r() < 0.7 ? ['a', 'b', 'c'][Math.floor(r() * 3)] : (Math.floor(r() * 40) / 8 - 2).toString());
  if (depth === 0 || r() < 0.2) return leaf();
  const sub = () => randomExpression(r, depth - 1, exactOnly);
  const pick = r();
  if (pick < 0.55) return `(${sub()} ${['+', '-', '*', '/'][Math.floor(r() * 4)]} ${sub()})`;
  if (pick < 0.65) return `-${sub()}`;
  if (pick < 0.8) {
    const left = sub(); // drawn before the comparison, as the template literal evaluates them
    const comparison = ['<', '>=', '==', '!='][Math.floor(r() * 4)];
    return `where((${left} ${comparison} ${sub()}) | (${sub()} > 1), ${sub()}, ${sub()})`;
  }
  if (exactOnly) return `abs(${sub()})`;
  return `${['sin', 'exp', 'sqrt', 'abs', 'floor', 'tanh', 'log1p'][Math.floor(r() * 7)]}(${sub()})`;
}

const SIZES = [0, 1, 7, 1023, 1025, 4097, 20_000];

for (const be of backends) {
  suite(`expressions [${be}]`, () => {
    it('evaluates the benchmark expressions like the reference', () => {
      const n = 5000;
      const vars = {
        a: randomArray(1, n, 1, 0),
        b: randomArray(2, n),
        c: randomArray(3, n),
        d: randomArray(4, n, 20, -10),
      };
      for (const expr of ['2*a + 3*b', 'a*b + c*sin(d)', 'where(a > 0.5, sqrt(a), b**2)']) {
        expectArrayClose(evaluate(expr, vars, { backend: be }) as Float64Array, reference(expr, vars, n), 2, expr);
      }
      // Integer powers become multiplications: a few roundings, against one for Math.pow.
      expectArrayClose(
        evaluate('2*a + b**10', vars, { backend: be }) as Float64Array,
        reference('2*a + b**10', vars, n),
        8,
      );
      expectArrayClose(evaluate('b**-3', vars, { backend: be }) as Float64Array, reference('b**-3', vars, n), 4);
    });

    it('agrees with the reference on random expressions (exact for + - * / and comparisons)', () => {
      const r = rng(2024);
      for (let trial = 0; trial < 40; trial++) {
        const n = SIZES[trial % SIZES.length];
        const vars = { a: randomArray(trial, n), b: randomArray(trial + 100, n), c: randomArray(trial + 200, n) };
        const exact = trial % 2 === 0;
        let expr = randomExpression(r, 4, exact);
        while (compile(expr).variables.length === 0) expr = randomExpression(r, 4, exact);
        const got = evaluate(expr, vars, { backend: be }) as Float64Array;
        expectArrayClose(got, reference(expr, vars, n), exact ? 0 : 256, expr);
      }
    });

    it('covers every function against Math', () => {
      const n = 2100;
      const a = randomArray(5, n, 1.8, -0.9);
      const b = randomArray(6, n, 10, 1.01);
      for (const fn of [
        'sin',
        'cos',
        'tan',
        'arcsin',
        'arccos',
        'arctan',
        'sinh',
        'cosh',
        'tanh',
        'arcsinh',
        'arctanh',
        'exp',
        'expm1',
        'log1p',
        'cbrt',
        'abs',
        'floor',
        'ceil',
        'trunc',
      ]) {
        expectArrayClose(
          evaluate(`${fn}(a)`, { a }, { backend: be }) as Float64Array,
          reference(`${fn}(a)`, { a }, n),
          4,
          fn,
        );
      }
      for (const fn of ['log', 'log10', 'log2', 'sqrt', 'arccosh']) {
        expectArrayClose(
          evaluate(`${fn}(b)`, { b }, { backend: be }) as Float64Array,
          reference(`${fn}(b)`, { b }, n),
          4,
          fn,
        );
      }
      for (const fn of ['arctan2', 'hypot', 'minimum', 'maximum']) {
        expectArrayClose(
          evaluate(`${fn}(a, b)`, { a, b }, { backend: be }) as Float64Array,
          reference(`${fn}(a, b)`, { a, b }, n),
          4,
          fn,
        );
      }
      expectArrayClose(
        evaluate('a % 0.3 + b ** a + e * pi', { a, b }, { backend: be }) as Float64Array,
        reference('a % 0.3 + b ** a + e * pi', { a, b }, n),
        4,
      );
    });

    it('propagates NaN and infinities and follows the truthiness rules', () => {
      const a = new Float64Array([NaN, Infinity, -Infinity, 0, -0, 1, NaN, 2]);
      const b = new Float64Array([1, -Infinity, Infinity, 0, 0, NaN, 0, 3]);
      const vars = { a, b };
      for (const expr of [
        'a + b',
        'a * b',
        'a / b',
        'a < b',
        'a == b',
        'a != b',
        '~a',
        'a & b',
        'a | b',
        'where(a, 1, 2)',
        'minimum(a, b)',
        'maximum(a, b)',
        'sqrt(a)',
        'exp(-a)',
        'a ** 0',
        'a ** 2',
        '-a',
      ]) {
        const got = evaluate(expr, vars, { backend: be }) as Float64Array;
        const want = reference(expr, vars, a.length);
        for (let i = 0; i < a.length; i++)
          expect(Object.is(got[i], want[i]) || got[i] === want[i], `${expr}[${i}]: ${got[i]} vs ${want[i]}`).toBe(true);
      }
    });

    it('broadcasts scalars and reads subarray views', () => {
      const base = randomArray(9, 3000);
      const a = base.subarray(3, 2003);
      const got = evaluate('x * a + y', { a, x: 2.5, y: -1 }, { backend: be }) as Float64Array;
      expectArrayClose(
        got,
        a.map((v) => 2.5 * v - 1),
        0,
      );
      expect(evaluate('x * 2', { x: 4 }, { backend: be })).toEqual(new Float64Array([8]));
    });

    it('computes in float32 for float32 inputs and promotes mixed inputs like numexpr', () => {
      const n = 3001;
      const a = Float32Array.from(randomArray(11, n));
      const b = Float32Array.from(randomArray(12, n));
      const f32 = evaluate('a * b + 3 * a - b / 3 + a ** 2.5', { a, b }, { backend: be });
      expect(f32).toBeInstanceOf(Float32Array);
      const f = Math.fround;
      const want = a.map((x, i) => f(f(f(f(x * b[i]) + f(3 * x)) - f(b[i] / 3)) + f(x ** 2.5)));
      expectArrayClose(f32 as Float32Array, want, 0);
      const i32 = Int32Array.from({ length: n }, (_, i) => i - 1500);
      // numexpr 2.8.4: int32 + float32 is float32 (its kinds are ordered bool, int, long, float, double).
      expect(evaluate('a + k', { a, k: i32 }, { backend: be })).toEqual(Float32Array.from(a, (x, i) => x + i32[i]));
      expect(evaluate('a + k', { a, k: Float64Array.from(a) }, { backend: be })).toBeInstanceOf(Float64Array);
      const ints = evaluate('k / 2', { k: i32 }, { backend: be }) as Float64Array;
      expect(ints).toBeInstanceOf(Float64Array);
      expectArrayClose(
        ints,
        Float64Array.from(i32, (v) => v / 2),
        0,
      );
      const sines = evaluate('sin(a)', { a }, { backend: be }) as Float32Array;
      for (let i = 0; i < n; i++) expect(Math.abs(sines[i] - Math.sin(a[i]))).toBeLessThanOrEqual(2 ** -22);
    });

    // numexpr 2.8.4 (python3-numexpr), checked: a float constant (2.0, 0.1, 1/2, pi) or a scalar variable
    // next to float32 arrays gives float64; integer constants and constant exponents of ** keep float32.
    // Each operation has its own kind: in `a * b + 0.1 * a`, a * b is computed in float32, then widened.
    it('promotes float32 like numexpr 2.8: float constants and scalar variables compute in float64', () => {
      const n = 3001;
      const a = Float32Array.from(randomArray(13, n));
      const float64Cases: [string, (x: number) => number][] = [
        ['a * b + 0.1 * a - b / 3', (x) => Math.fround(x * x) + 0.1 * x - Math.fround(x / 3)],
        ['a * 2.0', (x) => x * 2],
        ['1/2 * a', (x) => 0.5 * x],
        ['a + pi', (x) => x + Math.PI],
        ['(a > b) * 2.0', () => 0],
        ['arctan2(a, 2.0)', (x) => Math.atan2(x, 2)],
        ['a * s', (x) => x * 0.1],
      ];
      for (const [expr, fn] of float64Cases) {
        const got = evaluate(expr, { a, b: a, s: 0.1 }, { backend: be });
        expect(got, expr).toBeInstanceOf(Float64Array);
        expectArrayClose(got as Float64Array, Float64Array.from(a, fn), 2, expr);
      }
      for (const expr of ['a * 2', 'a ** 2.0', 'a ** 2.5', 'a * (2.5 > 1)', 'a * 3000000000', 'where(a > 0.1, a, 0)']) {
        const got = evaluate(expr, { a }, { backend: be });
        if (typeof got !== 'number') expect(got, expr).toBeInstanceOf(Float32Array);
      }
      // Float32 semantics where numexpr keeps float32: 0.1 compared in float64 is not 0.1 rounded to float32.
      const tenth = new Float32Array(n).fill(0.1);
      expect((evaluate('where(a > 0.1, 1, 0)', { a: tenth }, { backend: be }) as Float64Array)[0]).toBe(1);
    });

    it('lets a variable named e or pi win over the constant', () => {
      // Issue 18: b*c + d*e used 2.718... for e (b = 0.99, c = d = e = 99 gave 367.12, not 9899.01).
      const n = 5000;
      const full = (v: number) => new Float64Array(n).fill(v);
      const vars = { b: full(0.99), c: full(99), d: full(99), e: full(99) };
      const got = evaluate('b*c+d*e', vars, { backend: be }) as Float64Array;
      expect(got[0]).toBe(0.99 * 99 + 99 * 99);
      expect(got[n - 1]).toBe(0.99 * 99 + 99 * 99);
      expect(evaluate('pi * 2', { pi: 3 }, { backend: be })).toEqual(new Float64Array([6]));
      expect(evaluate('sum(e + pi)', { e: full(1), pi: 2 }, { backend: be })).toBe(3 * n);
      // Unbound, they stay the constants, also in the same compiled program.
      const program = compile('x * e + pi');
      expect(program.variables).toEqual(['x', 'e', 'pi']);
      expect(program.run({ x: 2 }, { backend: be })).toEqual(new Float64Array([2 * Math.E + Math.PI]));
      expect(program.run({ x: 2, e: 10 }, { backend: be })).toEqual(new Float64Array([20 + Math.PI]));
      expect(program.run({ x: 2 }, { backend: be })).toEqual(new Float64Array([2 * Math.E + Math.PI]));
    });

    it('writes a float32 result into a Float64Array out (a safe cast, as in numexpr), never the reverse', async () => {
      const n = 5000;
      const a = Float32Array.from(randomArray(41, n));
      const want = evaluate('a * a - 3', { a }, { backend: be }) as Float32Array;
      expect(want).toBeInstanceOf(Float32Array);
      const out = new Float64Array(n);
      expect(evaluate('a * a - 3', { a }, { backend: be, out })).toBe(out);
      expect(out).toEqual(Float64Array.from(want));
      const out2 = new Float64Array(n);
      expect(await evaluateAsync('a * a - 3', { a }, { backend: be, out: out2 })).toBe(out2);
      expect(out2).toEqual(out);
      const many = evaluateMany({ x: 'a + 1', y: 'a * 2' }, { a }, { backend: be, out: { y: new Float64Array(n) } });
      expect(many.x).toBeInstanceOf(Float32Array);
      expect(many.y).toEqual(Float64Array.from(a, (v) => v * 2));
      expect(() => evaluate('a * 2.5', { a }, { backend: be, out: new Float32Array(n) })).toThrow(
        /out must be a Float64Array \(the result type for these inputs is Float64Array, float64\), got Float32Array/,
      );
    });

    it('rejects unknown options with a TypeError naming them', () => {
      const a = new Float64Array(8);
      expect(() => evaluate('a', { a }, { backend: be, casting: 'safe' } as never)).toThrow(
        new TypeError("evaluate: unknown option 'casting' (accepted: out, threads, blockSize, backend)"),
      );
      expect(() => evaluate('a', { a }, { order: 'K', truediv: true } as never)).toThrow(
        "unknown options 'order', 'truediv'",
      );
      expect(() => evaluateMany({ x: 'a' }, { a }, { theads: 2 } as never)).toThrow(TypeError);
      expect(() => compile('a').run({ a }, { blocksize: 64 } as never)).toThrow("unknown option 'blocksize'");
      return expect(evaluateAsync('a', { a }, { backend: be, outt: a } as never)).rejects.toThrow(TypeError);
    });

    // numexpr 2.8.4: 8/16-bit integers and int32 compute in int32 (wrapping), uint32 in int64.
    it('reads every 8/16/32-bit integer typed array and boolean scalars, names the accepted types otherwise', () => {
      const n = 5000;
      const r = rng(31);
      const values = Array.from({ length: n }, () => Math.floor((r() - 0.5) * 2 ** 33));
      const f = Float64Array.from({ length: n }, () => r() * 100 - 50);
      for (const Ctor of [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array]) {
        const k = Ctor.from(values.map((v) => (Ctor === Uint8ClampedArray ? v & 0xff : v)));
        const got = evaluate('k * 3 - f / 2 + where(k > 7, k, 0) + t', { k, f, t: true }, { backend: be });
        expect(got, Ctor.name).toBeInstanceOf(Float64Array);
        const int64 = Ctor === Uint32Array;
        const times3 = (v: number) => (int64 ? v * 3 : Math.imul(v, 3));
        const want = Float64Array.from(k, (v, i) => times3(v) - f[i] / 2 + (v > 7 ? v : 0) + 1);
        expectArrayClose(got as Float64Array, want, 0, Ctor.name);
        const sum = int64 ? k.reduce((s, v) => s + BigInt(v), 0n) : k.reduce((s, v) => (s + v) | 0, 0);
        expect(evaluate('sum(k)', { k }, { backend: be }), Ctor.name).toBe(sum);
        expect(evaluate('k * 3', { k }, { backend: be }), Ctor.name).toBeInstanceOf(int64 ? BigInt64Array : Int32Array);
      }
      expect(evaluate('a * b', { a: false, b: 3 }, { backend: be })).toEqual(new Float64Array([0]));
      const float16 = (globalThis as { Float16Array?: new (n: number) => unknown }).Float16Array;
      const rejected = [new DataView(new ArrayBuffer(8)), [1, 2], float16 && new float16(n)];
      for (const value of rejected.filter(Boolean)) {
        expect(() => evaluate('f + k', { f, k: value } as never, { backend: be })).toThrow(
          new RegExp(
            "variable 'k' must be a Float64Array, Float32Array, Int32Array, .*BigInt64Array, BigUint64Array, " +
              '.* a number, a bigint or a boolean.*, got',
          ),
        );
      }
    });

    // Issue 18, numexpr's kinds. Values and result types from python3-numexpr 2.8.4 on the same data
    // (i32 = [1, -7, 2**31-1], i64 = [1, -7, 2**40], f32 = [1.5, 2, 3]), tiled to the native cut-off.
    it('types each operation like numexpr: int32 wraps, int64 is exact, comparisons and & | ~ give bool', () => {
      const n = 3 * 2000;
      const tile = <T extends { length: number }>(Ctor: { from(x: ArrayLike<unknown>): T }, values: unknown[]) =>
        Ctor.from(Array.from({ length: n }, (_, i) => values[i % values.length]));
      const i32 = tile(Int32Array, [1, -7, 2 ** 31 - 1]);
      const i64 = tile(BigInt64Array, [1n, -7n, 2n ** 40n]);
      const f32 = tile(Float32Array, [1.5, 2, 3]);
      const mask = tile(Uint8Array, [1, 0, 1]);
      const vars = {
        i: i32,
        l: i64,
        f: f32,
        b: { data: mask, dtype: 'bool' as const },
        z: tile(Int32Array, [0, 2, -3]),
      };
      const run = (expr: string, more = {}) => evaluate(expr, { ...vars, ...more } as never, { backend: be });
      expect(run('i + i')).toEqual(tile(Int32Array, [2, -14, -2]));
      expect(run('i * 2')).toEqual(tile(Int32Array, [2, -14, -2]));
      expect(run('i + l')).toEqual(tile(BigInt64Array, [2n, -14n, 1101659111423n]));
      expect(run('l * l')).toEqual(tile(BigInt64Array, [1n, 49n, 0n])); // 2**80 wraps to 0
      expect(run('i + f')).toEqual(tile(Float32Array, [2.5, -5, 2147483648]));
      expect(run('i / i')).toEqual(tile(Float64Array, [1, 1, 1]));
      expect(run('i % z')).toEqual(tile(Int32Array, [0, 1, -2])); // floored, 0 for a zero divisor (NumPy)
      expect(run('i << 1')).toEqual(tile(Int32Array, [2, -14, -2]));
      expect(run('i << i')).toEqual(tile(Int32Array, [2, -234881024, -2147483648])); // count modulo 32
      expect(run('l >> 1')).toEqual(tile(BigInt64Array, [0n, -4n, 549755813888n]));
      expect(run('~i')).toEqual(tile(Int32Array, [-2, 6, -2147483648]));
      expect(run('i & 6')).toEqual(tile(Int32Array, [0, 0, 6]));
      expect(run('b & b')).toEqual(tile(Uint8Array, [1, 0, 1]));
      expect(run('~b')).toEqual(tile(Uint8Array, [0, 1, 0]));
      expect(run('~(i > 1)')).toEqual(tile(Uint8Array, [1, 1, 0]));
      expect(run('where(b, 1, 2)')).toEqual(tile(Int32Array, [1, 2, 1]));
      expect(run('where(i > 0, i, l)')).toEqual(tile(BigInt64Array, [1n, -7n, 2147483647n]));
      expect(run('i + s', { s: 5n })).toEqual(tile(BigInt64Array, [6n, -2n, 2147483652n]));
      expect(run('i + t', { t: true })).toEqual(tile(Int32Array, [2, -6, -2147483648]));
      expect(run('i + 2**40')).toEqual(tile(BigInt64Array, [1099511627777n, 1099511627769n, 1101659111423n]));
      expect(run('i ** 2')).toEqual(tile(Int32Array, [1, 49, 1]));
      expect(run('abs(i)')).toBeInstanceOf(Float64Array);
      expect(() => run('i ** -1')).toThrow(/integers to negative integer powers are not allowed/);
      expect(() => run('f << 1')).toThrow(/shifts take integer operands/);
      // Reductions: int32 wraps (numexpr), int64 is a bigint, a bool sum counts (numexpr cannot sum bools).
      const k = n / 3;
      expect(run('sum(i)')).toBe(Number(BigInt.asIntN(32, BigInt(k) * (1n - 7n + 2n ** 31n - 1n))));
      expect(run('sum(l)')).toBe(BigInt(k) * (1n - 7n + 2n ** 40n));
      expect(run('min(l)')).toBe(-7n);
      expect(run('max(i)')).toBe(2 ** 31 - 1);
      expect(run('sum(b)')).toBe(2 * k);
      expect(run('sum(i > 0)')).toBe(2 * k);
      expect(run('mean(i)')).toBeCloseTo((1 - 7 + 2 ** 31 - 1) / 3, 6);
      // Bool inputs: an Array of booleans, or bytes where any non-zero byte is true.
      expect(evaluate('~a', { a: [true, false] }, { backend: be })).toEqual(Uint8Array.of(0, 1));
      expect(run('b & c', { c: { data: tile(Uint8Array, [7, 7, 0]), dtype: 'bool' } })).toEqual(
        tile(Uint8Array, [1, 0, 0]),
      );
      // out must be the result's typed array.
      const out = new Int32Array(n);
      expect(evaluate('i + i', vars as never, { backend: be, out })).toBe(out);
      expect(() => evaluate('i + i', vars as never, { backend: be, out: new Float64Array(n) })).toThrow(
        /out must be an Int32Array \(the result type for these inputs is Int32Array, int32\)/,
      );
      // BigUint64Array reads as int64 while every value fits; unsigned values from 2^63 up are refused.
      expect(evaluate('u + 1', { u: BigUint64Array.of(1n, 2n) }, { backend: be })).toEqual(BigInt64Array.of(2n, 3n));
      expect(() => evaluate('u + 1', { u: BigUint64Array.of(1n, 2n ** 63n) }, { backend: be })).toThrow(RangeError);
      expect(() => evaluate('u + 1', { u: 2n ** 63n }, { backend: be })).toThrow(/does not fit in int64/);
    });

    // Values from python3-numexpr 2.8.4: x % y on float64 is x - floor(x/y)*y (-7.5 % 2 = 0.5, 1e17 % 3 = 0);
    // fmod is C's truncated remainder. numexpr's int32 % is C's (and dies with SIGFPE on a zero
    // divisor); hotpath follows NumPy on integers: floored, and 0 for a zero divisor.
    it('computes % like numexpr on floats and NumPy on integers, fmod truncated, copy and ones_like', () => {
      const n = 5000;
      const tile = (values: number[]) => Float64Array.from({ length: n }, (_, i) => values[i % values.length]);
      const x = tile([-7.5, 7.5, -7.5, 5.0, 1e17, -1e-20, Infinity, 3.0, -0.0, 0.0]);
      const y = tile([Infinity, Infinity, 2.0, -0.0, 3.0, 1.0, 2.0, NaN, 2.0, -2.0]);
      const numexpr = tile([NaN, NaN, 0.5, NaN, 0, 1, NaN, NaN, 0, 0]);
      expect(evaluate('x % y', { x, y }, { backend: be })).toEqual(numexpr);
      expect(evaluate('fmod(x, y)', { x, y }, { backend: be })).toEqual(Float64Array.from(x, (v, i) => v % y[i]));
      const f32 = evaluate('f % 2', { f: Float32Array.from(x) }, { backend: be }) as Float32Array;
      expect(f32).toBeInstanceOf(Float32Array);
      expect(f32[2]).toBe(0.5);
      const a = Int32Array.from({ length: n }, (_, i) => [-7, 7, -7, 7, 5, -2147483648][i % 6]);
      const b = Int32Array.from({ length: n }, (_, i) => [3, -3, 0, 0, 0, -1][i % 6]);
      const numpy = Int32Array.from({ length: n }, (_, i) => [2, -2, 0, 0, 0, 0][i % 6]);
      expect(evaluate('a % b', { a, b }, { backend: be })).toEqual(numpy);
      expect(evaluate('a % 0', { a }, { backend: be })).toEqual(new Int32Array(n));
      expect(evaluate('x % 0', { x }, { backend: be })).toEqual(new Float64Array(n).fill(NaN));
      expect(evaluate('copy(x) + ones_like(x)', { x: y }, { backend: be })).toEqual(Float64Array.from(y, (v) => v + 1));
      expect(evaluate('sum(ones_like(a))', { a }, { backend: be })).toBe(n);
    });

    it('computes reductions over the whole array', () => {
      for (const n of [0, 1, 5, 1023, 4097, 30_000]) {
        const a = randomArray(n + 1, n, 1, 0.5);
        const b = randomArray(n + 2, n);
        const prod = (xs: Float64Array) => xs.reduce((p, v) => p * v, 1);
        const sum = (xs: Float64Array) => xs.reduce((s, v) => s + v, 0);
        const ab = a.map((v, i) => v * b[i]);
        const run = (expr: string) => evaluate(expr, { a, b }, { backend: be }) as number;
        const tol = (x: number) => 1e-12 * (1 + sum(ab.map(Math.abs))) + Math.abs(x) * 1e-12;
        expect(Math.abs(run('sum(a*b)') - sum(ab))).toBeLessThanOrEqual(tol(0));
        expect(Math.abs(run('mean(a*b)') - sum(ab) / n) || 0).toBeLessThanOrEqual(tol(0));
        if (n === 0) expect(run('mean(a)')).toBeNaN();
        expect(run('prod(a)')).toBeCloseTo(prod(a), 10);
        expect(run('min(a*b)')).toBe(n === 0 ? NaN : Math.min(...ab));
        expect(run('max(a*b)')).toBe(n === 0 ? NaN : Math.max(...ab));
      }
      const withNaN = new Float64Array([1, NaN, -3]);
      expect(evaluate('min(x)', { x: withNaN }, { backend: be })).toBeNaN();
      expect(evaluate('max(x)', { x: withNaN }, { backend: be })).toBeNaN();
      expect(evaluate('sum(x)', { x: new Float32Array([0.5, 0.25]) }, { backend: be })).toBe(0.75);
    });

    it('writes into out, also in place over an input, and copies partially overlapping inputs', () => {
      const n = 5000;
      const a = randomArray(21, n);
      const b = randomArray(22, n);
      const want = a.map((v, i) => v * v + b[i]);
      const out = new Float64Array(n);
      expect(evaluate('a*a + b', { a, b }, { backend: be, out })).toBe(out);
      expectArrayClose(out, want, 0);
      const inPlace = Float64Array.from(a);
      evaluate('a*a + b', { a: inPlace, b }, { backend: be, out: inPlace });
      expectArrayClose(inPlace, want, 0);
      // out is `buffer[0..n)`, the input `buffer[1..n+1)`: every element reads its right neighbour.
      const buffer = randomArray(23, n + 1);
      const shifted = buffer.subarray(1);
      const expected = shifted.map((v) => v * 2);
      evaluate('2 * s', { s: shifted }, { backend: be, out: buffer.subarray(0, n) });
      expectArrayClose(buffer.subarray(0, n), expected, 0);
    });

    it('evaluateMany computes several outputs in one pass', () => {
      const n = 4500;
      const a = randomArray(31, n);
      const b = randomArray(32, n);
      const c = randomArray(33, n);
      const x = new Float64Array(n);
      const result = evaluateMany(
        { x: 'a + b', y: 'a * b * c', s: 'sum(a * b)', z: 'b' },
        { a, b, c },
        { backend: be, out: { x } },
      );
      expect(result.x).toBe(x);
      expectArrayClose(
        x,
        a.map((v, i) => v + b[i]),
        0,
      );
      expectArrayClose(
        result.y as Float64Array,
        a.map((v, i) => v * b[i] * c[i]),
        0,
      );
      expectArrayClose(result.z as Float64Array, b, 0);
      expect(Math.abs((result.s as number) - a.reduce((s, v, i) => s + v * b[i], 0))).toBeLessThan(1e-9);
      // In place: x overwrites a while y still reads a at the same index.
      const inPlace = Float64Array.from(a);
      const both = evaluateMany({ x: 'a * 2', y: 'a + 1' }, { a: inPlace }, { backend: be, out: { x: inPlace } });
      expectArrayClose(
        inPlace,
        a.map((v) => v * 2),
        0,
      );
      expectArrayClose(
        both.y as Float64Array,
        a.map((v) => v + 1),
        0,
      );
    });

    it('evaluateAsync and compiled programs give the same results', async () => {
      const n = 40_000;
      const vars = { a: randomArray(41, n), b: randomArray(42, n) };
      const program = compile('a*b + sin(a)');
      expect(program.variables).toEqual(['a', 'b']);
      expect(program.reduction).toBeNull();
      const sync = program.run(vars, { backend: be }) as Float64Array;
      const results = await Promise.all(
        [1, 2, 3].map((threads) => evaluateAsync('a*b + sin(a)', vars, { backend: be, threads })),
      );
      for (const r of results) expectArrayClose(r as Float64Array, sync, 0);
      expect(await program.runAsync(vars, { backend: be })).toEqual(sync);
      expect(compile('sum(a)').reduction).toBe('sum');
    });

    it('allocates nothing of size n but the output at n = 1e7', () => {
      const n = 10_000_000;
      const a = new Float64Array(n).fill(0.5);
      const b = new Float64Array(n).fill(2);
      const out = new Float64Array(n);
      for (const expr of ['a*b + c*sin(a)', 'where(a > 0.25, sqrt(a), b**10)']) {
        const before = process.memoryUsage().arrayBuffers;
        evaluate(expr, { a, b, c: 3 }, { backend: be, out });
        expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
      }
      const before = process.memoryUsage().arrayBuffers;
      const sum = evaluate('sum(a*b)', { a, b }, { backend: be }) as number;
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
      expect(sum).toBe(n);
      const fresh = evaluate('a + b', { a, b }, { backend: be }) as Float64Array;
      expect(fresh.length).toBe(n);
      expect(fresh[n - 1]).toBe(2.5);
    });

    it('rejects bad variables, lengths and out arrays', () => {
      const a = new Float64Array(4);
      expect(() => evaluate('a + b', { a, b: new Float64Array(5) }, { backend: be })).toThrow(
        new RangeError("evaluate: length mismatch: 'a' has 4 elements but 'b' has 5"),
      );
      expect(() => evaluate('a + b', { a, b: [1, 2, 3, 4] as unknown as Float64Array }, { backend: be })).toThrow(
        new TypeError(
          "evaluate: variable 'b' must be a Float64Array, Float32Array, Int32Array, Int16Array, Int8Array, " +
            'Uint32Array, Uint16Array, Uint8Array, Uint8ClampedArray, BigInt64Array, BigUint64Array, ' +
            "an Array of booleans, { data: Uint8Array, dtype: 'bool' }, a number, a bigint or a boolean " +
            '(or an n-d array { data, shape, strides?, offset? }), got Array',
        ),
      );
      expect(() => evaluate('a', { a }, { backend: be, out: new Float32Array(4) })).toThrow(
        new TypeError(
          'evaluate: out must be a Float64Array (the result type for these inputs is Float64Array, float64), ' +
            'got Float32Array',
        ),
      );
      expect(() => evaluate('a', { a }, { backend: be, out: new Float64Array(3) })).toThrow(
        new RangeError('evaluate: out has 3 elements, expected 4'),
      );
      expect(() => evaluate('sum(a)', { a }, { backend: be, out: new Float64Array(4) })).toThrow(TypeError);
      expect(() => evaluate('a', { a }, { backend: be, threads: 0 })).toThrow(RangeError);
      expect(() => evaluate('a', null as never, { backend: be })).toThrow(TypeError);
      const shared = new Float64Array(8);
      expect(() =>
        evaluateMany(
          { x: 'a', y: 'a' },
          { a },
          { backend: be, out: { x: shared.subarray(0, 4), y: shared.subarray(2, 6) } },
        ),
      ).toThrow(new RangeError("evaluateMany: outputs 'x' and 'y' share memory"));
    });
  });
}

suite('expression language', () => {
  // Issue 15 item 10: deep expressions ended in "RangeError: Maximum call stack size exceeded".
  it('rejects expressions nested too deeply with an ExpressionError at the column, never a stack overflow', () => {
    const deep: [string, number][] = [
      ['sin('.repeat(1000) + 'a' + ')'.repeat(1000), 4 * 256 + 1],
      ['('.repeat(3000) + 'a' + ')'.repeat(3000), 257],
      ['-'.repeat(10_000) + 'a', 257],
      ['a' + '**a'.repeat(3000), 3 * 256 + 2],
      ['sum(' + '('.repeat(300) + 'a' + ')'.repeat(300) + ')', 4 + 257],
    ];
    for (const [expr, column] of deep) {
      for (const run of [
        () => parseExpression(expr),
        () => compile(expr),
        () => evaluate(expr, { a: new Float64Array(1) }),
      ]) {
        let caught: unknown;
        try {
          run();
        } catch (error) {
          caught = error;
        }
        expect(caught, expr.slice(0, 20)).toBeInstanceOf(ExpressionError);
        expect((caught as ExpressionError).message).toContain('nested too deeply (more than 256 levels)');
        expect((caught as ExpressionError).column, expr.slice(0, 20)).toBe(column);
      }
    }
    // 256 levels still parse and run.
    const a = Float64Array.of(0.5);
    expect(evaluate('('.repeat(255) + 'a' + ')'.repeat(255), { a })).toEqual(a);
    expect(evaluate('abs('.repeat(255) + 'a' + ')'.repeat(255), { a })).toEqual(a);
  });

  it('compiles and runs a flat 10,000-term sum on both backends (no recursion over the tree)', () => {
    const terms = 10_000;
    const sum = Array.from({ length: terms }, (_, i) => (i % 2 ? 'a' : 'b')).join('+');
    const program = compile(sum);
    expect(program.toString()).toContain('SSA:');
    const n = 5000;
    const a = new Float64Array(n).fill(1);
    const b = new Float64Array(n).fill(2);
    for (const be of backends) {
      const got = program.run({ a, b }, { backend: be }) as Float64Array;
      expect(got[0]).toBe(terms / 2 + terms);
      expect(got[n - 1]).toBe(terms / 2 + terms);
    }
    // a*b - a/b + a*b - ...: 2,500 products and quotients, 1,250 of each (2 and 0.5 apiece).
    const mixed = Array.from({ length: 2500 }, (_, i) => (i % 2 ? '-a/b' : '+a*b'))
      .join('')
      .slice(1);
    for (const be of backends) {
      const got = evaluate(mixed, { a, b }, { backend: be }) as Float64Array;
      expect(got[n - 1]).toBe(1250 * 2 - 1250 * 0.5);
    }
  });

  it('reports syntax errors and unknown names with the column and a caret', () => {
    const cases: [string, string, number][] = [
      ['a + * b', "unexpected '*'", 5],
      ['2 * sine(a)', "unknown function 'sine'", 5],
      ['a +', 'unexpected end of input', 4],
      ['2 * sum(a)', "reduction 'sum' must be the outermost call", 5],
      ['a < b < c', 'comparisons cannot be chained', 7],
      ['3x', "malformed number '3x'", 1],
      ['a @ b', "unexpected character '@'", 3],
      ['where(a, b)', 'where() takes 3 arguments, got 2', 1],
      ['sin(a', "expected ')' but found end of input", 6],
      ['', 'empty expression', 1],
    ];
    for (const [expr, problem, column] of cases) {
      try {
        evaluate(expr, { a: new Float64Array(1), b: new Float64Array(1), c: new Float64Array(1) });
        expect.fail(`${expr} should not parse`);
      } catch (error) {
        expect(error).toBeInstanceOf(ExpressionError);
        const e = error as ExpressionError;
        expect(e.message).toContain(problem);
        expect(e.column).toBe(column);
        const [, line, caret] = e.message.split('\n');
        expect(line).toBe(`  ${expr}`);
        expect(caret.indexOf('^')).toBe(column + 1);
      }
    }
    expect(() => evaluate('a + c', { a: new Float64Array(1) })).toThrow(
      "evaluate: unknown variable 'c' (column 5)\n  a + c\n      ^",
    );
  });

  it('parses precedence like numexpr, with & and | looser than comparisons', () => {
    const vars = { a: new Float64Array([-2, 0.5, 3]), b: new Float64Array([1, 2, 3]) };
    expect(evaluate('-a**2', vars)).toEqual(vars.a.map((v) => -(v ** 2)));
    expect(evaluate('2**-1 + a', vars)).toEqual(vars.a.map((v) => 0.5 + v));
    // Comparisons and & | ~ of them are bool: a Uint8Array of 0/1.
    expect(evaluate('a > 0 & b < 3 | a == -2', vars)).toEqual(new Uint8Array([1, 1, 0]));
    expect(evaluate('~(a > 0)', vars)).toEqual(new Uint8Array([1, 0, 0]));
    expect(evaluate('1e-3 * b + .5 + 2.5E+1', vars)).toEqual(vars.b.map((v) => 1e-3 * v + 0.5 + 25));
  });

  it('folds constants, unrolls integer powers and shows the program', () => {
    const text = compile('2*a + b**10 + sin(pi/2)').toString();
    const ssa = text.split('SSA:')[1].split('fused JS loop')[0];
    expect(ssa).not.toContain('pow');
    expect(ssa.match(/= mul %/g)?.length).toBe(5); // 2*a, then b**10 in four multiplies
    expect(ssa).toContain('add %');
    expect(ssa).not.toContain('sin');
    expect(text).toContain('for (let i = 0; i < n; i++)');
  });
});

suite.runIf(backend === 'native')('native expression VM', () => {
  it('matches the fused JS loop on random programs, thread counts and block sizes', async () => {
    const r = rng(77);
    for (let trial = 0; trial < 30; trial++) {
      const n = [0, 1, 15, 1000, 1024, 4099, 70_001][trial % 7];
      const float32 = trial % 3 === 0;
      const make = (seed: number) => (float32 ? Float32Array.from(randomArray(seed, n)) : randomArray(seed, n));
      const vars = { a: make(trial), b: make(trial + 50), c: trial % 4 === 1 ? 0.75 : make(trial + 90) };
      let expr = randomExpression(r, 4, false);
      while (compile(expr).variables.length === 0) expr = randomExpression(r, 4, false);
      const js = evaluate(expr, vars, { backend: 'js' }) as Float64Array;
      const threads = 1 + (trial % 4);
      const blockSize = [16, 100, 1024, 4096][trial % 4];
      const native = evaluate(expr, vars, { backend: 'native', threads, blockSize }) as Float64Array;
      expect(native.constructor).toBe(js.constructor);
      // libm and V8 may differ by an ulp in sin/exp/tanh/log1p; later operations can amplify it.
      expectArrayClose(native, js, float32 ? 2 ** 35 : 2 ** 10, `${expr} (float32=${float32})`);
      const asyncResult = (await evaluateAsync(expr, vars, { backend: 'native', threads, blockSize })) as Float64Array;
      expectArrayClose(asyncResult, native, 0, 'async');
    }
  });

  it('is bit-for-bit equal to the fused JS loop for + - * / and comparisons', () => {
    const r = rng(78);
    for (let trial = 0; trial < 20; trial++) {
      const n = 5000 + trial;
      const float32 = trial % 2 === 0;
      const make = (seed: number) => (float32 ? Float32Array.from(randomArray(seed, n)) : randomArray(seed, n));
      const vars = { a: make(trial), b: make(trial + 1), c: make(trial + 2) };
      let expr = randomExpression(r, 5, true);
      while (compile(expr).variables.length === 0) expr = randomExpression(r, 5, true);
      expectArrayClose(
        evaluate(expr, vars, { backend: 'native', threads: 2, blockSize: 256 }) as Float64Array,
        evaluate(expr, vars, { backend: 'js' }) as Float64Array,
        0,
        expr,
      );
    }
  });

  it('vectorized sin, cos, exp and log stay within 2 ulps of Math (libm for huge, NaN and infinite arguments)', () => {
    const r = rng(91);
    const n = 20_000;
    const spread = (range: number) => () => (r() - 0.5) * range * r();
    const positive = () => Math.exp((r() - 0.5) * 1400);
    for (const [fn, draw] of [
      ['sin', spread(2e5)],
      ['cos', spread(2e5)],
      ['exp', spread(1500)],
      ['log', positive],
    ] as const) {
      const x = Float64Array.from({ length: n }, draw);
      x[7000] = 0; // log: -Infinity; also 5e-324 (subnormal) and negative arguments take the libm path
      x[7001] = 5e-324;
      x[7002] = -2;
      x[100] = 1e300; // a block with an argument beyond the vector path's limit
      x[5000] = NaN;
      x[9000] = -Infinity;
      const got = evaluate(`${fn}(x)`, { x }, { backend: 'native' }) as Float64Array;
      const f32 = evaluate(`${fn}(x)`, { x: Float32Array.from(x) }, { backend: 'native' }) as Float32Array;
      for (let i = 0; i < n; i++) {
        const want = Math[fn](x[i]);
        expect(closeUlps(got[i], want, 2), `${fn}(${x[i]}): ${got[i]} vs ${want}`).toBe(true);
        const want32 = Math.fround(Math[fn](Math.fround(x[i])));
        expect(
          Math.abs(f32[i] - want32) <= 2 ** -23 * Math.max(1, Math.abs(want32)) || Object.is(f32[i], want32),
          `${fn} float32 at ${i}`,
        ).toBe(true);
      }
    }
  });

  it('runs many concurrent async calls safely', async () => {
    const n = 100_000;
    const inputs = Array.from({ length: 8 }, (_, k) => randomArray(k + 300, n));
    const results = await Promise.all(
      inputs.map((a) => evaluateAsync('a * 2 + 1', { a }, { backend: 'native', threads: 3 })),
    );
    results.forEach((r, k) =>
      expectArrayClose(
        r as Float64Array,
        inputs[k].map((v) => v * 2 + 1),
        0,
      ),
    );
  });

  it('is safe from several worker threads at once, each also running async calls', async () => {
    const workerSource = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { evaluate, evaluateAsync } = require(workerData.entry);
      const a = new Float64Array(workerData.n).map((_, i) => Math.sin(i + workerData.seed));
      (async () => {
        const results = [evaluate('a*a + sin(a)', { a }, { backend: 'native', threads: 2 })];
        const run = (threads) => evaluateAsync('a*a + sin(a)', { a }, { backend: 'native', threads });
        results.push(...(await Promise.all([1, 2, 3].map(run))));
        parentPort.postMessage(results);
      })();
    `;
    const entry = createRequire(__filename).resolve('hotpath');
    const n = 200_003;
    const runs = await Promise.all(
      [1, 2, 3].map(
        (seed) =>
          new Promise<Float64Array[]>((resolve, reject) => {
            const worker = new Worker(workerSource, { eval: true, workerData: { entry, n, seed } });
            worker.once('message', (m) => {
              resolve(m);
              void worker.terminate();
            });
            worker.once('error', reject);
          }),
      ),
    );
    runs.forEach((results, k) => {
      const a = new Float64Array(n).map((_, i) => Math.sin(i + k + 1));
      const want = evaluate('a*a + sin(a)', { a }, { backend: 'js' }) as Float64Array;
      for (const r of results) expectArrayClose(r, want, 4);
    });
  });

  it('rejects malformed bytecode with a RangeError before touching memory', () => {
    const addon = createRequire(__filename)(nativePath!) as { exprEvaluate: (...args: unknown[]) => unknown };
    const a = new Float64Array(4);
    const run = (code: number[], inputs: unknown[] = [a], outputs: unknown[] = [new Float64Array(4)]) =>
      addon.exprEvaluate(Int32Array.from(code), new Float64Array(0), inputs, outputs, 4, 1, 1024);
    // Header [inputs, constants, outputs, temps, instructions], register kinds (4: float64), outputs
    // [kind, source], instructions [opcode, dst, a, b, c]: one input, one output, out = add(in, in).
    const good = [1, 0, 1, 0, 1, 4, 4, 0, 1, 2, 1, 0, 0, 0];
    expect(() => run([1, 0, 1, 0, 1, 4, 4, 0, 1, 2, 0, 0, 0, 0])).toThrow(/writes an input or constant register/);
    expect(() => run([1, 0, 1, 0, 1, 4, 4, 0, 1, 999, 1, 0, 0, 0])).toThrow(/bad opcode/);
    expect(() => run([1, 0, 1, 0, 1, 9, 4, 0, 1, 2, 1, 0, 0, 0])).toThrow(/bad register kind/);
    // Kinds the op does not take: add of an int32 and a float64 register, lt into a float64 register.
    expect(() => run([2, 0, 1, 0, 1, 1, 4, 4, 0, 2, 2, 2, 0, 1, 0])).toThrow(RangeError);
    expect(() => run([1, 0, 1, 0, 1, 4, 4, 0, 1, 8, 1, 0, 0, 0])).toThrow(/operand kinds that lt does not take/);
    expect(() => run([1, 0, 1, 0, 0, 4, 1, 0, 0])).toThrow(/output register of another kind/);
    expect(() => run(good, [a], [new Float64Array(3)])).toThrow(RangeError);
    expect(() => run(good, [[1, 2, 3, 4]])).toThrow(TypeError);
    expect(() => run(good, [new Int32Array(4)])).toThrow(TypeError);
    expect(() => run(good, [1n])).toThrow(TypeError);
    const out = new Float64Array(4);
    run(good, [new Float64Array([1, 2, 3, 4])], [out]);
    expect(out).toEqual(new Float64Array([2, 4, 6, 8]));
  });
});

// numexpr's API around evaluate: re_evaluate, set_num_threads / get_num_threads.
suite('reEvaluate and the native thread count', () => {
  it('reEvaluate re-runs the last evaluate with new or the same variables and the same options', () => {
    const a = Float64Array.of(1, 2, 3);
    const out = new Float64Array(3);
    expect(evaluate('a * 2 + k', { a, k: 1 }, { out, backend: 'js' })).toBe(out);
    a[0] = 10;
    expect(reEvaluate()).toBe(out);
    expect(out).toEqual(Float64Array.of(21, 5, 7));
    expect(reEvaluate({ a: Float64Array.of(0, 0, 0), k: 4 })).toEqual(Float64Array.of(4, 4, 4));
    expect(() => reEvaluate({ a })).toThrow(/^reEvaluate: unknown variable 'k'/);
    expect(() => reEvaluate({ a: [1] as never, k: 1 })).toThrow(TypeError);
  });

  it('setNumThreads sets the default of every native call taking threads and returns the previous value', async () => {
    expect(getNumThreads()).toBe(Math.min(os.availableParallelism(), 1024));
    expect(() => setNumThreads(0)).toThrow(RangeError);
    expect(() => setNumThreads(1025)).toThrow(RangeError);
    expect(() => setNumThreads('2' as never)).toThrow(TypeError);
    const before = getNumThreads();
    expect(setNumThreads(3)).toBe(before);
    try {
      expect(getNumThreads()).toBe(3);
      if (backend !== 'native') return;
      const addon = createRequire(__filename)(nativePath!) as Record<string, (...args: unknown[]) => unknown>;
      const a = new Float64Array(50_000).fill(1);
      const evaluateSpy = vi.spyOn(addon, 'exprEvaluate');
      const asyncSpy = vi.spyOn(addon, 'exprEvaluateAsync');
      const momentsSpy = vi.spyOn(addon, 'momentsPartialAsync');
      try {
        evaluate('a + 1', { a }, { backend: 'native' });
        await evaluateAsync('a + 1', { a }, { backend: 'native' });
        await describeAsync(a, { backend: 'native' });
        evaluate('a + 1', { a }, { backend: 'native', threads: 2 });
        expect(evaluateSpy.mock.calls.map((args) => args[5])).toEqual([3, 2]);
        expect(asyncSpy.mock.calls[0][5]).toBe(3);
        expect(momentsSpy.mock.calls[0][2]).toBe(3);
      } finally {
        vi.restoreAllMocks();
      }
    } finally {
      setNumThreads(before);
    }
  });
});
