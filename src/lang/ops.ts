// The instruction set both backends execute. The order of OPS is the bytecode's opcode numbering
// and must match `enum class Op` in native/expr/expr_kernel.h (a test compares it with the addon's
// own list). Each op's `js` template is the pure-TS semantics: the fused loop inlines it, and
// constant folding evaluates it, so folded and computed values can never disagree.

export interface OpInfo {
  name: string;
  arity: 1 | 2 | 3;
  /** A JS expression computing the op from argument expressions (already parenthesized). */
  js: (...args: string[]) => string;
}

const call =
  (fn: string) =>
  (...args: string[]) =>
    `${fn}(${args.join(', ')})`;
const infix = (op: string) => (a: string, b: string) => `(${a} ${op} ${b})`;
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
].join('\n');

export const OPS: readonly OpInfo[] = [
  { name: 'neg', arity: 1, js: (a) => `(-${a})` },
  { name: 'not', arity: 1, js: (a) => `(${a} === 0 ? 1 : 0)` },
  { name: 'add', arity: 2, js: infix('+') },
  { name: 'sub', arity: 2, js: infix('-') },
  { name: 'mul', arity: 2, js: infix('*') },
  { name: 'div', arity: 2, js: infix('/') },
  { name: 'mod', arity: 2, js: call('hp_mod') },
  { name: 'pow', arity: 2, js: call('Math.pow') },
  { name: 'lt', arity: 2, js: test('<') },
  { name: 'le', arity: 2, js: test('<=') },
  { name: 'eq', arity: 2, js: test('===') },
  { name: 'ne', arity: 2, js: test('!==') },
  { name: 'ge', arity: 2, js: test('>=') },
  { name: 'gt', arity: 2, js: test('>') },
  { name: 'and', arity: 2, js: (a, b) => `(${a} !== 0 && ${b} !== 0 ? 1 : 0)` },
  { name: 'or', arity: 2, js: (a, b) => `(${a} !== 0 || ${b} !== 0 ? 1 : 0)` },
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
  { name: 'minimum', arity: 2, js: call('Math.min') },
  { name: 'maximum', arity: 2, js: call('Math.max') },
  { name: 'fmod', arity: 2, js: infix('%') },
  { name: 'imod', arity: 2, js: call('hp_imod') },
  { name: 'copy', arity: 1, js: (a) => a },
  { name: 'ones_like', arity: 1, js: () => '1' },
];

/** Ops whose result is a boolean (1 or 0) whatever their operands are. */
export const BOOLEAN_RESULT: ReadonlySet<string> = new Set(['not', 'lt', 'le', 'eq', 'ne', 'ge', 'gt', 'and', 'or']);
/**
 * Ops that give an integer for integer operands (numexpr keeps them in the integer kind); every
 * other op (`/` and the transcendental functions) gives a float. Used to tell folded float
 * constants from integer ones (1/2 is a float, 2*3 is not).
 */
export const INTEGRAL_RESULT: ReadonlySet<string> = new Set([
  'neg',
  'add',
  'sub',
  'mul',
  'mod',
  'imod',
  'fmod',
  'pow',
  'where',
  'abs',
  'floor',
  'ceil',
  'trunc',
  'minimum',
  'maximum',
  'copy',
  'ones_like',
]);

export const OPCODE: ReadonlyMap<string, number> = new Map(OPS.map((op, i) => [op.name, i]));

/** Scalar evaluators (the same JS templates, compiled once) used by constant folding. */
export const FOLD: readonly ((...args: number[]) => number)[] = OPS.map(
  (op) =>
    new Function('a', 'b', 'c', `${JS_HELPERS}\nreturn ${op.js(...['a', 'b', 'c'].slice(0, op.arity))};`) as (
      ...args: number[]
    ) => number,
);
