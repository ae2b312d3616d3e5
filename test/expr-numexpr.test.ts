// numexpr's own expression generator (test_expressions in numexpr/tests/test_numexpr.py, 2.8.4 as
// shipped by Debian's python3-numexpr): the same sections (MISC, OPERATIONS, COMPARISONS,
// 1_ARG_FUNCS, 2_ARG_FUNCS, POW_TESTS), the same arrays (a = arange(0, 200, 2), b = arange(100)/100,
// c = d = e = arange(100)) and the same scalar variants (test_scalar 1: a is one element; 2: b is),
// over the dtypes hotpath has: int (Int32Array; numexpr's int is int64, which hotpath does not take),
// float32 and float64. complex is not supported (a deliberate decision, see docs/api.md).
// Every case runs on both backends against a reference computed here: a tree walk over the parsed
// expression with Math, in float64 or, where the program computes in float32, rounding every
// operation with Math.fround. + - * / % comparisons and the exact functions must match exactly;
// transcendental functions and non-integer powers within 4 ulps of the result's type.
// Rejections are listed in REJECTED with the reason each is deliberate.
import { describe as suite, expect, it } from 'vitest';
import { ExpressionError, evaluate, parseExpression, type ExpressionNode } from 'hotpath';
import { backends, REFERENCE_FNS } from './helpers.js';

const misc = [
  'b*c+d*e',
  '2*a+3*b',
  '-a',
  'sinh(a)',
  '2*a + (cos(3)+5)*sinh(cos(b))',
  '2*a + arctan2(a, b)',
  'arcsin(0.5)',
  'where(a != 0.0, 2, a)',
  'where(a > 10, b < a, b > a)',
  'where((a-10).real != 0.0, a, 2)',
  '0.25 * (a < 5) + 0.33 * (a >= 5)',
  'cos(1+1)',
  '1+1',
  '1',
  'cos(a2)',
];
const operations = ['+', '-', '*', '/', '%', '**'].flatMap((op) =>
  [
    '(a+1) OP (b+3)',
    '3 OP (b+3)',
    '(a+1) OP 4',
    '2 OP (b+3)',
    '(a+1) OP 2',
    '(a+1) OP -1',
    '(a+1) OP 0.5',
    '(a+1) OP 0',
  ].map((t) => t.replace('OP', op)),
);
const comparisons = ['<', '<=', '==', '>=', '>', '!='].flatMap((op) =>
  ['a/2+5 OP b', 'a/2+5 OP 7', '7 OP b', '7.0 OP 5'].map((t) => t.replace('OP', op)),
);
const func1 = [
  'copy',
  'ones_like',
  'sqrt',
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
  'arccosh',
  'arctanh',
  'log',
  'log1p',
  'log10',
  'exp',
  'expm1',
  'abs',
  'conj',
  'ceil',
  'floor',
].map((fn) => `a + ${fn}(b+c)`);
const func2 = ['arctan2', 'fmod'].flatMap((fn) => [`a + ${fn}(b+c, d+1)`, `a + ${fn}(b+c, 1)`, `a + ${fn}(1, d+1)`]);
const pow = ['-7', '-2.5', '-1.5', '-1.3', '-.5', '0', '0.0', '1', '2.3', '2.5', '3'].map((n) => `(a+1)**${n}`);
const SECTIONS: [string, string[]][] = [
  ['MISC', misc],
  ['OPERATIONS', operations],
  ['COMPARISONS', comparisons],
  ['1_ARG_FUNCS', func1],
  ['2_ARG_FUNCS', func2],
  ['POW_TESTS', pow],
];

type Dtype = 'int' | 'float32' | 'float64';
type Flat = Float64Array | Float32Array | Int32Array;
/** a2 is numexpr's 2-d array: an n-d object (test/expr-ndarray.test.ts covers shapes in depth). */
type Value = number | Flat | { data: Flat; shape: number[] };

/** Deliberate rejections: the expression (and when it applies), the error, and why. */
const REJECTED: { test: (expr: string, dtype: Dtype, scalar: number) => boolean; error: RegExp; why: string }[] = [
  { test: (x) => x.includes('conj('), error: /unknown function 'conj'/, why: 'complex numbers are not supported' },
  { test: (x) => x.includes('.real'), error: /unexpected character '\.'/, why: 'complex numbers are not supported' },
  {
    // numexpr's generator skips the scalar variant; with an array NumPy raises and so does numexpr.
    test: (x, dtype, scalar) => dtype === 'int' && scalar !== 1 && /\(a\+1\) ?\*\* ?-\d+$/.test(x) && !x.includes('.'),
    error: /integers to negative integer powers are not allowed/,
    why: 'NumPy and numexpr refuse negative integer powers of integers',
  },
];

const N = 100;
function variables(dtype: Dtype, scalar: number): Record<string, Value | object> {
  const Ctor = dtype === 'int' ? Int32Array : dtype === 'float32' ? Float32Array : Float64Array;
  const range = (step: number) => Ctor.from({ length: N }, (_, i) => i * step);
  // arange(100, dtype=int) / 100 is a float64 array in NumPy.
  const b =
    dtype === 'int' ? Float64Array.from({ length: N }, (_, i) => i / N) : Ctor.from({ length: N }, (_, i) => i / N);
  const vars: Record<string, Value | object> = {
    a: range(2),
    b,
    c: range(1),
    d: range(1),
    e: range(1),
    a2: { data: Ctor.from({ length: N * N }, (_, i) => i % N), shape: [N, N] },
  };
  if (scalar === 1) vars.a = (vars.a as Int32Array)[N / 2];
  if (scalar === 2) vars.b = (vars.b as Float64Array)[N / 2];
  return vars;
}

/** The documented semantics, written out independently of src/expr: one value per node and element. */
function flat(value: Value): Flat | number {
  return typeof value === 'number' || ArrayBuffer.isView(value) ? value : value.data;
}

class Reference {
  constructor(
    readonly vars: Record<string, Value | object>,
    readonly round: (x: number) => number,
    readonly folding = false,
  ) {}
  isConstant(node: ExpressionNode): boolean {
    if (node.kind === 'number') return true;
    if (node.kind === 'variable') return false;
    if (node.kind === 'unary') return this.isConstant(node.operand);
    if (node.kind === 'binary') return this.isConstant(node.left) && this.isConstant(node.right);
    return node.args.every((a) => this.isConstant(a));
  }
  /** Integer kind (numexpr): integer literals, integer arrays, and what + - * % and comparisons make of them. */
  isInteger(node: ExpressionNode): boolean {
    if (node.kind === 'number') return !node.float;
    if (node.kind === 'variable') return flat(this.vars[node.name] as Value) instanceof Int32Array;
    if (node.kind === 'unary') return node.op === '~' || this.isInteger(node.operand);
    if (node.kind === 'binary') {
      if (['<', '<=', '==', '!=', '>=', '>', '&', '|'].includes(node.op)) return true;
      return node.op !== '/' && this.isInteger(node.left) && this.isInteger(node.right);
    }
    const operands = node.fn === 'where' ? node.args.slice(1) : node.args;
    return (
      ['abs', 'floor', 'ceil', 'trunc', 'minimum', 'maximum', 'fmod', 'copy', 'ones_like', 'where'].includes(node.fn) &&
      operands.every((a) => this.isInteger(a))
    );
  }
  at(node: ExpressionNode, i: number): number {
    // Constant subexpressions fold in float64 at compile time, then round once.
    if (!this.folding && this.isConstant(node) && node.kind !== 'number') {
      return this.round(new Reference(this.vars, (x) => x, true).at(node, i));
    }
    const r = this.round;
    switch (node.kind) {
      case 'number':
        return r(node.value);
      case 'variable': {
        const v = this.vars[node.name] as Value;
        return r(typeof v === 'number' ? v : flat(v)[i]);
      }
      case 'unary': {
        const x = this.at(node.operand, i);
        return node.op === '-' ? -x : x === 0 ? 1 : 0;
      }
      case 'binary': {
        const [x, y] = [this.at(node.left, i), this.at(node.right, i)];
        switch (node.op) {
          case '+':
            return r(x + y);
          case '-':
            return r(x - y);
          case '*':
            return r(x * y);
          case '/':
            return r(x / y);
          case '%':
            if (y === 0 && this.isInteger(node.left) && this.isInteger(node.right)) return 0;
            return r(x - Math.floor(x / y) * y);
          case '**':
            return this.power(node, x, y);
          case '<':
            return x < y ? 1 : 0;
          case '<=':
            return x <= y ? 1 : 0;
          case '==':
            return x === y ? 1 : 0;
          case '!=':
            return x !== y ? 1 : 0;
          case '>=':
            return x >= y ? 1 : 0;
          case '>':
            return x > y ? 1 : 0;
          case '&':
            return x !== 0 && y !== 0 ? 1 : 0;
          case '|':
            return x !== 0 || y !== 0 ? 1 : 0;
        }
      }
      // falls through: every binary operator returned
      case 'call':
        return r(
          REFERENCE_FNS[(node as { fn: string }).fn](
            ...(node as { args: ExpressionNode[] }).args.map((a) => this.at(a, i)),
          ),
        );
    }
  }
  /** Integer exponents up to 64 are binary exponentiation (documented), others Math.pow. */
  power(node: ExpressionNode & { kind: 'binary' }, x: number, y: number): number {
    const r = this.round;
    if (node.right.kind === 'number' || (node.right.kind === 'unary' && node.right.operand.kind === 'number')) {
      if (Number.isInteger(y) && Math.abs(y) <= 64) {
        if (y === 0) return 1;
        let result = NaN;
        let base = x;
        for (let rest = Math.abs(y); rest > 0; rest = Math.floor(rest / 2)) {
          if (rest % 2 === 1) result = Number.isNaN(result) ? base : r(result * base);
          if (rest > 1) base = r(base * base);
        }
        return y < 0 ? r(1 / result) : result;
      }
    }
    return r(Math.pow(x, y));
  }
}

/** Distance in units in the last place of the result's type (0: identical; NaN equals NaN). */
function ulps(actual: number, expected: number, float32: boolean): number {
  if (Number.isNaN(actual) || Number.isNaN(expected))
    return Number.isNaN(actual) && Number.isNaN(expected) ? 0 : Infinity;
  if (actual === expected) return 0;
  if (!Number.isFinite(actual) || !Number.isFinite(expected)) return Infinity;
  const ordered = (x: number): bigint => {
    const bits = float32
      ? BigInt(new Int32Array(Float32Array.of(x).buffer)[0])
      : new BigInt64Array(Float64Array.of(x).buffer)[0];
    const sign = float32 ? -(2n ** 31n) : -(2n ** 63n);
    return bits < 0n ? sign - bits : bits;
  };
  const d = ordered(actual) - ordered(expected);
  return Number(d < 0n ? -d : d);
}

/** Transcendental functions, and ** with anything but an integer literal exponent (Math.pow vs libm pow). */
const TRANSCENDENTAL = /sin|cos|tan|arc|log|exp|\*\*\s*(?!-?\d+(?![\d.]))/;

function readsVariable(tree: ExpressionNode, name: string): boolean {
  if (tree.kind === 'variable') return tree.name === name;
  if (tree.kind === 'number') return false;
  if (tree.kind === 'unary') return readsVariable(tree.operand, name);
  if (tree.kind === 'binary') return readsVariable(tree.left, name) || readsVariable(tree.right, name);
  return tree.args.some((a) => readsVariable(a, name));
}

for (const be of backends) {
  suite(`numexpr's test_expressions generator [${be}]`, () => {
    for (const [section, expressions] of SECTIONS) {
      for (const dtype of ['int', 'float32', 'float64'] as Dtype[]) {
        it(`${section} over ${dtype}, arrays and both scalar variants`, () => {
          let checked = 0;
          for (const scalar of [0, 1, 2]) {
            const vars = variables(dtype, scalar);
            for (const expr of expressions) {
              const label = `${expr} (dtype=${dtype}, test_scalar=${scalar})`;
              const rejection = REJECTED.find((r) => r.test(expr, dtype, scalar));
              if (rejection) {
                expect(() => evaluate(expr, vars as never, { backend: be }), label).toThrow(rejection.error);
                continue;
              }
              const result = evaluate(expr, vars as never, { backend: be }) as Flat | { data: Flat; shape: number[] };
              if (!ArrayBuffer.isView(result)) expect(result.shape, label).toEqual([N, N]);
              const got = flat(result) as Float64Array | Float32Array;
              const float32 = got instanceof Float32Array;
              const tree = parseExpression(expr);
              // float32 results only where every array is float32 and no scalar variable is read.
              const readsScalar =
                (scalar === 1 && readsVariable(tree, 'a')) || (scalar === 2 && readsVariable(tree, 'b'));
              if (float32) expect(dtype === 'float32' && !readsScalar, label).toBe(true);
              const reference = new Reference(vars, float32 ? Math.fround : (x) => x);
              const tolerance = TRANSCENDENTAL.test(expr) ? 4 : 0;
              for (let i = 0; i < got.length; i++) {
                const want = reference.at(tree, i);
                const distance = ulps(got[i], want, float32);
                if (distance > tolerance)
                  expect.fail(`${label} [${i}]: got ${got[i]}, want ${want} (${distance} ulps)`);
                checked++;
              }
            }
          }
          expect(checked).toBeGreaterThan(0);
        });
      }
    }

    it('rejects exactly the documented cases', () => {
      const rejected = new Set<string>();
      for (const [, expressions] of SECTIONS) {
        for (const expr of expressions) {
          for (const dtype of ['int', 'float32', 'float64'] as Dtype[]) {
            for (const scalar of [0, 1, 2]) {
              const rule = REJECTED.find((r) => r.test(expr, dtype, scalar));
              if (rule) rejected.add(`${expr}: ${rule.why}`);
            }
          }
        }
      }
      expect([...rejected].sort()).toEqual([
        '(a+1) ** -1: NumPy and numexpr refuse negative integer powers of integers',
        '(a+1)**-7: NumPy and numexpr refuse negative integer powers of integers',
        'a + conj(b+c): complex numbers are not supported',
        'where((a-10).real != 0.0, a, 2): complex numbers are not supported',
      ]);
      expect(() => evaluate('conj(a)', { a: new Float64Array(1) })).toThrow(ExpressionError);
    });
  });
}
