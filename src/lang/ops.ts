// The instruction set both backends execute. The order of OPS is the bytecode's opcode numbering
// and must match `enum class Op` in native/expr/expr_kernel.h (a test compares it with the addon's
// own list). Each op's `js` template is the pure-TS semantics: the fused loop inlines it, and
// constant folding evaluates it, so folded and computed values can never disagree.

export interface OpInfo {
  name: string;
  arity: 1 | 2 | 3;
  /** A JS expression computing the op from argument expressions (already parenthesized): float64 semantics. */
  js: (...args: string[]) => string;
  /**
   * The op on operands of another kind (typed.ts), where `js` does not already mean it: int32 wraps
   * (|0, Math.imul), int64 operands are BigInts wrapped with asIntN, & | ~ on integers and booleans are
   * bitwise (booleans are 0 and 1). Absent: the op never sees that kind after typing.
   */
  int32?: (...args: string[]) => string;
  int64?: (...args: string[]) => string;
  bool?: (...args: string[]) => string;
}

const call =
  (fn: string) =>
  (...args: string[]) =>
    `${fn}(${args.join(', ')})`;
const infix = (op: string) => (a: string, b: string) => `(${a} ${op} ${b})`;
const wrap64 = (expr: string) => `BigInt.asIntN(64, ${expr})`;
/** & and | on integers and booleans: bitwise (on 0/1 the same as logical). */
const bitwise = (op: string) => ({ int32: infix(op), int64: infix(op), bool: infix(op) });
const test = (op: string) => (a: string, b: string) => `(${a} ${op} ${b} ? 1 : 0)`;

/**
 * Helpers the `js` templates call (operands that appear twice in a formula must not be inlined
 * twice: nested, that doubles the source per level). Declared at the top of every fused loop and
 * of the folding functions. `%` is numexpr's float remainder x - floor(x/y)*y (sign of the divisor,
 * as Python and NumPy); on integer operands a zero divisor gives 0, as in NumPy.
 */
export const JS_HELPERS = [
  'const hp_mod = (x, y) => x - Math.floor(x / y) * y;',
  'const hp_imod = (x, y) => (y === 0 ? 0 : x - Math.floor(x / y) * y);',
  // Floored integer remainders (the sign of the divisor); by zero 0, as NumPy; INT_MIN % -1 is 0.
  'const hp_imod32 = (x, y) => { if (y === 0) return 0; const r = x % y | 0;',
  '  return r !== 0 && (r ^ y) < 0 ? r + y : r; };',
  'const hp_imod64 = (x, y) => { if (y === 0n) return 0n; const r = x % y;',
  '  return r !== 0n && (r < 0n) !== (y < 0n) ? r + y : r; };',
  // int64 to float32 with one rounding (Number() then Math.fround could round twice): 53 bits plus a sticky bit.
  'const hp_i64f32 = (x) => { const m = x < 0n ? -x : x; if (m < 2n ** 53n) return Math.fround(Number(x));',
  '  const s = BigInt(m.toString(2).length - 53); const top = (m >> s) | ((m & ((1n << s) - 1n)) !== 0n ? 1n : 0n);',
  '  const v = Math.fround(Number(top) * 2 ** Number(s)); return x < 0n ? -v : v; };',
].join('\n');

export const OPS: readonly OpInfo[] = [
  { name: 'neg', arity: 1, js: (a) => `(-${a})`, int32: (a) => `(-${a} | 0)`, int64: (a) => wrap64(`-${a}`) },
  {
    name: 'not',
    arity: 1,
    js: (a) => `(${a} === 0 ? 1 : 0)`,
    int32: (a) => `(~${a})`,
    int64: (a) => `(~${a})`,
    bool: (a) => `(${a} ^ 1)`,
  },
  {
    name: 'add',
    arity: 2,
    js: infix('+'),
    int32: (a, b) => `((${a} + ${b}) | 0)`,
    int64: (a, b) => wrap64(`${a} + ${b}`),
  },
  {
    name: 'sub',
    arity: 2,
    js: infix('-'),
    int32: (a, b) => `((${a} - ${b}) | 0)`,
    int64: (a, b) => wrap64(`${a} - ${b}`),
  },
  { name: 'mul', arity: 2, js: infix('*'), int32: call('Math.imul'), int64: (a, b) => wrap64(`${a} * ${b}`) },
  { name: 'div', arity: 2, js: infix('/') },
  { name: 'mod', arity: 2, js: call('hp_mod') },
  { name: 'pow', arity: 2, js: call('Math.pow') },
  { name: 'lt', arity: 2, js: test('<') },
  { name: 'le', arity: 2, js: test('<=') },
  { name: 'eq', arity: 2, js: test('===') },
  { name: 'ne', arity: 2, js: test('!==') },
  { name: 'ge', arity: 2, js: test('>=') },
  { name: 'gt', arity: 2, js: test('>') },
  { name: 'and', arity: 2, js: (a, b) => `(${a} !== 0 && ${b} !== 0 ? 1 : 0)`, ...bitwise('&') },
  { name: 'or', arity: 2, js: (a, b) => `(${a} !== 0 || ${b} !== 0 ? 1 : 0)`, ...bitwise('|') },
  { name: 'where', arity: 3, js: (c, a, b) => `(${c} !== 0 ? ${a} : ${b})` },
  { name: 'sin', arity: 1, js: call('Math.sin') },
  { name: 'cos', arity: 1, js: call('Math.cos') },
  { name: 'tan', arity: 1, js: call('Math.tan') },
  { name: 'arcsin', arity: 1, js: call('Math.asin') },
  { name: 'arccos', arity: 1, js: call('Math.acos') },
  { name: 'arctan', arity: 1, js: call('Math.atan') },
  { name: 'sinh', arity: 1, js: call('Math.sinh') },
  { name: 'cosh', arity: 1, js: call('Math.cosh') },
  { name: 'tanh', arity: 1, js: call('Math.tanh') },
  { name: 'arcsinh', arity: 1, js: call('Math.asinh') },
  { name: 'arccosh', arity: 1, js: call('Math.acosh') },
  { name: 'arctanh', arity: 1, js: call('Math.atanh') },
  { name: 'exp', arity: 1, js: call('Math.exp') },
  { name: 'expm1', arity: 1, js: call('Math.expm1') },
  { name: 'log', arity: 1, js: call('Math.log') },
  { name: 'log1p', arity: 1, js: call('Math.log1p') },
  { name: 'log10', arity: 1, js: call('Math.log10') },
  { name: 'log2', arity: 1, js: call('Math.log2') },
  { name: 'sqrt', arity: 1, js: call('Math.sqrt') },
  { name: 'cbrt', arity: 1, js: call('Math.cbrt') },
  { name: 'abs', arity: 1, js: call('Math.abs') },
  { name: 'floor', arity: 1, js: call('Math.floor') },
  { name: 'ceil', arity: 1, js: call('Math.ceil') },
  { name: 'trunc', arity: 1, js: call('Math.trunc') },
  { name: 'arctan2', arity: 2, js: call('Math.atan2') },
  { name: 'hypot', arity: 2, js: call('Math.hypot') },
  { name: 'minimum', arity: 2, js: call('Math.min'), int64: (a, b) => `(${a} < ${b} ? ${a} : ${b})` },
  { name: 'maximum', arity: 2, js: call('Math.max'), int64: (a, b) => `(${a} > ${b} ? ${a} : ${b})` },
  { name: 'fmod', arity: 2, js: infix('%') },
  { name: 'imod', arity: 2, js: call('hp_imod'), int32: call('hp_imod32'), int64: call('hp_imod64') },
  { name: 'copy', arity: 1, js: (a) => a },
  { name: 'ones_like', arity: 1, js: () => '1', int64: () => '1n' },
  // Shift counts are taken modulo the width (JS and x86, what numexpr 2.8 does); integers only.
  { name: 'shl', arity: 2, js: infix('<<'), int32: infix('<<'), int64: (a, b) => wrap64(`${a} << (${b} & 63n)`) },
  { name: 'shr', arity: 2, js: infix('>>'), int32: infix('>>'), int64: (a, b) => `(${a} >> (${b} & 63n))` },
  // Converts its operand to the value's kind (typed.ts): its JS is castJs(), by source and target kind.
  { name: 'cast', arity: 1, js: (a) => a },
];

/** Ops whose result is a boolean (1 or 0) whatever their operands are. */
export const BOOLEAN_RESULT: ReadonlySet<string> = new Set(['not', 'lt', 'le', 'eq', 'ne', 'ge', 'gt', 'and', 'or']);
/**
 * Ops that give an integer for integer operands (numexpr keeps them in the integer kind); every
 * other op (`/`, the transcendental functions and, as numexpr 2.8, abs floor ceil trunc fmod)
 * gives a float. Used to tell folded float
 * constants from integer ones (1/2 is a float, 2*3 is not).
 */
export const INTEGRAL_RESULT: ReadonlySet<string> = new Set([
  'neg',
  'add',
  'sub',
  'mul',
  'mod',
  'imod',
  'pow',
  'where',
  'minimum',
  'maximum',
  'copy',
  'ones_like',
  'shl',
  'shr',
]);

/**
 * Ops that constant folding leaves to typed.ts: on integers they are bitwise (or wrap at the width),
 * which the float64 `js` templates cannot fold.
 */
export const TYPED_FOLD_ONLY: ReadonlySet<string> = new Set(['not', 'and', 'or', 'shl', 'shr']);

export const OPCODE: ReadonlyMap<string, number> = new Map(OPS.map((op, i) => [op.name, i]));

/** Scalar evaluators (the same JS templates, compiled once) used by constant folding. */
export const FOLD: readonly ((...args: number[]) => number)[] = OPS.map(
  (op) =>
    new Function('a', 'b', 'c', `${JS_HELPERS}\nreturn ${op.js(...['a', 'b', 'c'].slice(0, op.arity))};`) as (
      ...args: number[]
    ) => number,
);
