// numexpr's own expression generator (test_expressions in numexpr/tests/test_numexpr.py, 2.8.4 as
// shipped by Debian's python3-numexpr): the same sections (MISC, OPERATIONS, COMPARISONS,
// 1_ARG_FUNCS, 2_ARG_FUNCS, POW_TESTS), the same arrays (a = arange(0, 200, 2), b = arange(100)/100,
// c = d = e = arange(100)) and the same scalar variants (test_scalar 1: a is one element; 2: b is),
// over numexpr's kinds: int64 (BigInt64Array, numexpr's int), int32 (Int32Array), bool (a hotpath
// addition: arrays of (i % 3 == 0) marked { data, dtype: 'bool' }), float32 and float64. complex is not
// supported (a deliberate decision, see docs/api.md).
// Every case runs on both backends against a reference computed here: a typed tree walk over the parsed
// expression (each node's kind by numexpr's rules, int32 wrapping, int64 in BigInt, float32 rounding
// every operation with Math.fround). The result's array type must be the reference kind's; integer and
// bool results and + - * / % comparisons must match exactly; transcendental functions and non-integer
// powers within 4 ulps of the result's type. Rejections are listed in REJECTED with the reason each is
// deliberate.
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

/** numexpr's int is int64; int32, and bool (a hotpath addition: & | ~ and comparisons stay bool, arithmetic int32). */
const DTYPES = ['int32', 'int64', 'bool', 'float32', 'float64'] as const;
type Dtype = (typeof DTYPES)[number];
type Kind = 'bool' | 'int32' | 'int64' | 'float32' | 'float64';
type Flat = Float64Array | Float32Array | Int32Array | BigInt64Array | Uint8Array;
type Scalar = number | bigint | boolean;
/** a2 is numexpr's 2-d array: an n-d object (test/expr-ndarray.test.ts covers shapes in depth). */
type Value = Scalar | Flat | { data: Flat; shape?: number[]; dtype?: 'bool' };

const isInt = (dtype: Dtype) => dtype === 'int32' || dtype === 'int64' || dtype === 'bool';

/** Deliberate rejections: the expression (and when it applies), the error, and why. */
const REJECTED: { test: (expr: string, dtype: Dtype, scalar: number) => boolean; error: RegExp; why: string }[] = [
  { test: (x) => x.includes('conj('), error: /unknown function 'conj'/, why: 'complex numbers are not supported' },
  { test: (x) => x.includes('.real'), error: /unexpected character '\.'/, why: 'complex numbers are not supported' },
  {
    // numexpr's generator skips these; NumPy and numexpr raise. A number scalar `a` is a float64 (int32 dtype).
    test: (x, dtype, scalar) =>
      isInt(dtype) && !(dtype === 'int32' && scalar === 1) && /\(a\+1\) ?\*\* ?-\d+$/.test(x) && !x.includes('.'),
    error: /integers to negative integer powers are not allowed/,
    why: 'NumPy and numexpr refuse negative integer powers of integers',
  },
];

const N = 100;
function column(dtype: Dtype, values: (i: number) => number, length = N): Flat {
  if (dtype === 'int64') return BigInt64Array.from({ length }, (_, i) => BigInt(values(i)));
  if (dtype === 'bool') return Uint8Array.from({ length }, (_, i) => (values(i) % 3 === 0 ? 1 : 0));
  return (dtype === 'int32' ? Int32Array : dtype === 'float32' ? Float32Array : Float64Array).from({ length }, (_, i) =>
    values(i),
  );
}
const wrapBool = (dtype: Dtype, data: Flat, shape?: number[]): Value =>
  dtype === 'bool' ? { data, dtype: 'bool', ...(shape ? { shape } : {}) } : shape ? { data, shape } : data;

function variables(dtype: Dtype, scalar: number): Record<string, Value> {
  // arange(100, dtype=int) / 100 is a float64 array in NumPy.
  const b = isInt(dtype) ? Float64Array.from({ length: N }, (_, i) => i / N) : column(dtype, (i) => i / N);
  const vars: Record<string, Value> = {
    a: wrapBool(
      dtype,
      column(dtype, (i) => 2 * i),
    ),
    b,
    c: wrapBool(
      dtype,
      column(dtype, (i) => i),
    ),
    d: wrapBool(
      dtype,
      column(dtype, (i) => i),
    ),
    e: wrapBool(
      dtype,
      column(dtype, (i) => i),
    ),
    a2: wrapBool(
      dtype,
      column(dtype, (i) => i % N, N * N),
      [N, N],
    ),
  };
  // numexpr's test_scalar: a NumPy scalar of the dtype; here a number (float64), a bigint (int64) or a boolean.
  if (scalar === 1) {
    const element = flat(vars.a)[N / 2];
    vars.a = dtype === 'bool' ? element === 1 : element;
  }
  if (scalar === 2) vars.b = (vars.b as Float64Array)[N / 2];
  return vars;
}

function flat(value: Value): Flat {
  return ArrayBuffer.isView(value) ? value : (value as { data: Flat }).data;
}

// The documented semantics (numexpr 2.8's kinds, docs/api.md), written out independently of src/: every node
// has a kind, an operation computes in the common kind of its operands (order below; bool arithmetic in
// int32), / and the functions compute integers in float64, comparisons give bool, int32 wraps, int64 is exact
// (BigInt) and wraps at 2^64, float32 rounds every operation.
const ORDER: Kind[] = ['bool', 'int32', 'int64', 'float32', 'float64'];
const common = (...kinds: Kind[]): Kind => kinds.reduce((a, b) => (ORDER.indexOf(b) > ORDER.indexOf(a) ? b : a));
const isFloat = (k: Kind) => k === 'float32' || k === 'float64';
type Element = number | bigint;

function cast(x: Element, from: Kind, to: Kind): Element {
  if (from === to) return x;
  if (to === 'bool') return x != 0 ? 1 : 0; // != compares 0 and 0n alike
  if (to === 'int64') return BigInt(x);
  if (to === 'float32') return Math.fround(Number(x));
  return Number(x);
}

/** x op y in kind k (operands already cast). */
function arithmetic(op: string, k: Kind, x: Element, y: Element): Element {
  if (k === 'int64') {
    const [p, q] = [x as bigint, y as bigint];
    if (op === '%') {
      if (q === 0n) return 0n;
      const r = p % q;
      return r !== 0n && r < 0n !== q < 0n ? r + q : r;
    }
    return BigInt.asIntN(64, op === '+' ? p + q : op === '-' ? p - q : p * q);
  }
  const [p, q] = [x as number, y as number];
  if (k === 'int32') {
    if (op === '%') {
      if (q === 0) return 0;
      const r = p % q;
      return r !== 0 && r < 0 !== q < 0 ? r + q : r;
    }
    return op === '*' ? Math.imul(p, q) : (op === '+' ? p + q : p - q) | 0;
  }
  const round = k === 'float32' ? Math.fround : (v: number) => v;
  if (op === '%') return round(p - Math.floor(p / q) * q);
  return round(op === '+' ? p + q : op === '-' ? p - q : op === '*' ? p * q : p / q);
}

class Reference {
  constructor(readonly vars: Record<string, Value>) {}

  isConstant(node: ExpressionNode): boolean {
    if (node.kind === 'number') return true;
    if (node.kind === 'variable') return false;
    if (node.kind === 'unary') return this.isConstant(node.operand);
    if (node.kind === 'binary') return this.isConstant(node.left) && this.isConstant(node.right);
    return node.args.every((a) => this.isConstant(a));
  }

  /** A constant subexpression folds in float64 (Python): integer-valued results of integer trees are int32 or int64. */
  constant(node: ExpressionNode): { kind: Kind; value: Element } {
    const value = new FloatReference().at(node);
    const comparison = (n: ExpressionNode) => n.kind === 'binary' && ['<', '<=', '==', '!=', '>=', '>'].includes(n.op);
    if (comparison(node)) return { kind: 'bool', value };
    const integral = (n: ExpressionNode): boolean => {
      if (n.kind === 'number') return !n.float;
      if (comparison(n)) return true;
      if (n.kind === 'unary') return integral(n.operand);
      if (n.kind === 'binary') return n.op !== '/' && integral(n.left) && integral(n.right);
      return false;
    };
    if (integral(node) && Number.isInteger(value)) {
      return Math.abs(value) < 2 ** 31 ? { kind: 'int32', value } : { kind: 'int64', value: BigInt(value) };
    }
    return { kind: 'float64', value };
  }

  kindOf(node: ExpressionNode): Kind {
    if (this.isConstant(node)) return this.constant(node).kind;
    switch (node.kind) {
      case 'variable': {
        const v = this.vars[node.name];
        if (typeof v === 'number') return 'float64';
        if (typeof v === 'bigint') return 'int64';
        if (typeof v === 'boolean' || (v as { dtype?: string }).dtype === 'bool') return 'bool';
        const data = flat(v);
        return data instanceof BigInt64Array
          ? 'int64'
          : data instanceof Int32Array
            ? 'int32'
            : data instanceof Float32Array
              ? 'float32'
              : 'float64';
      }
      case 'unary': {
        const k = this.kindOf(node.operand);
        return node.op === '~' ? (isFloat(k) ? 'bool' : k) : k === 'bool' ? 'int32' : k;
      }
      case 'binary': {
        const [l, r] = [this.kindOf(node.left), this.kindOf(node.right)];
        const k = common(l, r);
        if (['<', '<=', '==', '!=', '>=', '>'].includes(node.op)) return 'bool';
        if (node.op === '&' || node.op === '|') return isFloat(k) ? 'bool' : k;
        if (node.op === '/') return isFloat(k) ? k : 'float64';
        if (node.op === '**') {
          if (this.isConstant(node.right)) {
            if (isFloat(l)) return l;
            return this.constant(node.right).kind === 'float64' ? 'float64' : l === 'bool' ? 'int32' : l;
          }
          return isFloat(k) ? k : 'float64';
        }
        return k === 'bool' ? 'int32' : k;
      }
      case 'call': {
        const kinds = node.args.map((a) => this.kindOf(a));
        if (node.fn === 'where') return common(kinds[1], kinds[2]);
        if (node.fn === 'copy') return kinds[0];
        if (node.fn === 'ones_like') return kinds[0] === 'bool' ? 'int32' : kinds[0];
        const k = common(...kinds);
        if (node.fn === 'minimum' || node.fn === 'maximum') return k === 'bool' ? 'int32' : k;
        return isFloat(k) ? k : 'float64';
      }
    }
    return 'float64';
  }

  at(node: ExpressionNode, i: number): Element {
    if (this.isConstant(node)) return this.constant(node).value;
    const kind = this.kindOf(node);
    const sub = (n: ExpressionNode, to: Kind) => cast(this.at(n, i), this.kindOf(n), to);
    switch (node.kind) {
      case 'variable': {
        const v = this.vars[node.name];
        if (typeof v === 'boolean') return v ? 1 : 0;
        return typeof v === 'object' ? flat(v)[i] : v;
      }
      case 'unary': {
        if (node.op === '-') return arithmetic('-', kind, cast(0, 'int32', kind), sub(node.operand, kind));
        if (kind === 'bool') return sub(node.operand, 'bool') === 1 ? 0 : 1;
        return kind === 'int64' ? ~(sub(node.operand, kind) as bigint) : ~(sub(node.operand, kind) as number);
      }
      case 'binary': {
        const k = common(this.kindOf(node.left), this.kindOf(node.right));
        if (['<', '<=', '==', '!=', '>=', '>'].includes(node.op)) {
          const [x, y] = [sub(node.left, k), sub(node.right, k)];
          const op = node.op;
          return (
            op === '<'
              ? x < y
              : op === '<='
                ? x <= y
                : op === '=='
                  ? x === y
                  : op === '!='
                    ? x !== y
                    : op === '>='
                      ? x >= y
                      : x > y
          )
            ? 1
            : 0;
        }
        if (node.op === '&' || node.op === '|') {
          const [x, y] = [sub(node.left, kind), sub(node.right, kind)];
          if (kind === 'int64') return node.op === '&' ? (x as bigint) & (y as bigint) : (x as bigint) | (y as bigint);
          return node.op === '&' ? (x as number) & (y as number) : (x as number) | (y as number);
        }
        if (node.op === '**') return this.power(node, kind, i);
        const operands = node.op === '/' ? kind : kind;
        return arithmetic(node.op, operands, sub(node.left, operands), sub(node.right, operands));
      }
      case 'call': {
        if (node.fn === 'where')
          return sub(node.args[0], 'bool') === 1 ? sub(node.args[1], kind) : sub(node.args[2], kind);
        if (node.fn === 'copy') return this.at(node.args[0], i);
        const args = node.args.map((a) => Number(sub(a, kind)));
        const value = REFERENCE_FNS[node.fn](...args);
        if (kind === 'int32') return value;
        if (kind === 'int64') return BigInt(value);
        return kind === 'float32' ? Math.fround(value) : value;
      }
    }
    return NaN;
  }

  /** Integer exponents up to 64 (any, for integer bases) are binary exponentiation (documented), others pow. */
  power(node: ExpressionNode & { kind: 'binary' }, kind: Kind, i: number): Element {
    const x = cast(this.at(node.left, i), this.kindOf(node.left), kind);
    const exponent = this.isConstant(node.right) ? this.constant(node.right) : null;
    if (exponent && exponent.kind !== 'float64' && Math.abs(Number(exponent.value)) <= 64) {
      const y = Number(exponent.value);
      if (y === 0) return cast(1, 'int32', kind);
      let result: Element | null = null;
      let base = x;
      for (let rest = Math.abs(y); rest > 0; rest = Math.floor(rest / 2)) {
        if (rest % 2 === 1) result = result === null ? base : arithmetic('*', kind, result, base);
        if (rest > 1) base = arithmetic('*', kind, base, base);
      }
      return y < 0 ? arithmetic('/', kind, cast(1, 'int32', kind), result!) : result!;
    }
    const y = Number(cast(this.at(node.right, i), this.kindOf(node.right), kind));
    const value = Math.pow(Number(x), y);
    return kind === 'float32' ? Math.fround(value) : value;
  }
}

/** Constant subexpressions: Python's float64 arithmetic. */
class FloatReference {
  at(node: ExpressionNode): number {
    switch (node.kind) {
      case 'number':
        return node.value;
      case 'unary':
        return -this.at(node.operand);
      case 'binary': {
        const [x, y] = [this.at(node.left), this.at(node.right)];
        if (node.op === '%') return x - Math.floor(x / y) * y;
        const test = { '<': x < y, '<=': x <= y, '==': x === y, '!=': x !== y, '>=': x >= y, '>': x > y }[
          node.op as '<'
        ];
        if (test !== undefined) return test ? 1 : 0;
        return node.op === '+'
          ? x + y
          : node.op === '-'
            ? x - y
            : node.op === '*'
              ? x * y
              : node.op === '/'
                ? x / y
                : x ** y;
      }
      case 'call':
        return REFERENCE_FNS[node.fn](...node.args.map((a) => this.at(a)));
    }
    return NaN;
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

const RESULTS: Record<Kind, new (n: number) => Flat> = {
  bool: Uint8Array,
  int32: Int32Array,
  int64: BigInt64Array,
  float32: Float32Array,
  float64: Float64Array,
};

for (const be of backends) {
  suite(`numexpr's test_expressions generator [${be}]`, () => {
    for (const [section, expressions] of SECTIONS) {
      for (const dtype of DTYPES) {
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
              const got = flat(result);
              const tree = parseExpression(expr);
              const reference = new Reference(vars);
              const kind = reference.kindOf(tree);
              expect(got, label).toBeInstanceOf(RESULTS[kind]);
              const tolerance = isFloat(kind) && TRANSCENDENTAL.test(expr) ? 4 : 0;
              for (let i = 0; i < got.length; i++) {
                const want = reference.at(tree, i);
                const distance = isFloat(kind)
                  ? ulps(got[i] as number, want as number, kind === 'float32')
                  : got[i] === want
                    ? 0
                    : Infinity;
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
          for (const dtype of DTYPES) {
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
