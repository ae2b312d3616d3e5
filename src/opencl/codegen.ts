// Generates OpenCL C from the expression language's SSA program (src/lang/ir.ts): the same parser,
// constant folding, common-subexpression elimination and integer-power unrolling as the CPU
// `evaluate`, so both compute the same operations in the same order. Each op mirrors the JS
// semantics in src/lang/ops.ts (NaN handling of min/max/pow included); FP_CONTRACT is off so
// a*b + c never becomes an fma, which keeps + - * / bit-identical to the CPU.
import { type Ir, liveValues } from '../lang/ir.js';
import { OPS } from '../lang/ops.js';
import type { InputCode } from '../lang/bind.js';

/** How a kernel receives input k: d/f/i a __global double/float/int array, s a scalar. */
export type { InputCode } from '../lang/bind.js';
export type RealType = 'float' | 'double';

const elementTypes: Record<Exclude<InputCode, 's'>, string> = { d: 'double', f: 'float', i: 'int' };

/** A C literal of `value` in `real` (float literals carry the f suffix: no double constant on fp32-only devices). */
export function literal(value: number, real: RealType): string {
  if (Number.isNaN(value)) return `((${real})NAN)`;
  if (!Number.isFinite(value)) return value > 0 ? `((${real})INFINITY)` : `(-(${real})INFINITY)`;
  const v = real === 'float' ? Math.fround(value) : value;
  // Shortest round-trip decimal: C parses it back to exactly v (for floats, to the same float).
  let text = Object.is(v, -0) ? '-0.0' : String(v);
  if (!/[.e]/.test(text)) text += '.0';
  return `(${text}${real === 'float' ? 'f' : ''})`;
}

const infix = (op: string) => (a: string, b: string) => `(${a} ${op} ${b})`;
const test = (op: string) => (a: string, b: string) => `(${a} ${op} ${b} ? ONE : ZERO)`;
const call =
  (fn: string) =>
  (...args: string[]) =>
    `${fn}(${args.join(', ')})`;

// OpenCL C for each op of src/lang/ops.ts, by name. ONE and ZERO are the real type's 1 and 0.
const OPENCL: Record<string, (...args: string[]) => string> = {
  neg: (a) => `(-${a})`,
  not: (a) => `(${a} == ZERO ? ONE : ZERO)`,
  add: infix('+'),
  sub: infix('-'),
  mul: infix('*'),
  div: infix('/'),
  mod: call('hp_mod'), // numexpr's floored remainder x - floor(x/y)*y
  imod: call('hp_imod'), // the same on integer operands, 0 for a zero divisor (NumPy)
  fmod: call('fmod'), // the truncated remainder, JS %, exact in both
  pow: call('hp_pow'),
  lt: test('<'),
  le: test('<='),
  eq: test('=='),
  ne: test('!='),
  ge: test('>='),
  gt: test('>'),
  and: (a, b) => `(${a} != ZERO && ${b} != ZERO ? ONE : ZERO)`,
  or: (a, b) => `(${a} != ZERO || ${b} != ZERO ? ONE : ZERO)`,
  where: (c, a, b) => `(${c} != ZERO ? ${a} : ${b})`,
  sin: call('sin'),
  cos: call('cos'),
  tan: call('tan'),
  arcsin: call('asin'),
  arccos: call('acos'),
  arctan: call('atan'),
  sinh: call('sinh'),
  cosh: call('cosh'),
  tanh: call('tanh'),
  arcsinh: call('asinh'),
  arccosh: call('acosh'),
  arctanh: call('atanh'),
  exp: call('exp'),
  expm1: call('expm1'),
  log: call('log'),
  log1p: call('log1p'),
  log10: call('log10'),
  log2: call('log2'),
  sqrt: call('sqrt'),
  cbrt: call('cbrt'),
  abs: call('fabs'),
  floor: call('floor'),
  ceil: call('ceil'),
  trunc: call('trunc'),
  arctan2: call('atan2'),
  hypot: call('hypot'),
  minimum: call('hp_min'),
  maximum: call('hp_max'),
  copy: (a) => a,
  ones_like: () => 'ONE',
};

// JS semantics where C's differ: Math.pow(1, NaN) and Math.pow(±1, ±Infinity) are NaN (C: 1);
// Math.min/max return NaN if either side is NaN (fmin/fmax return the other) and order -0 < +0.
const helpers = (real: RealType) => `
#define ONE ((${real})1)
#define ZERO ((${real})0)
inline ${real} hp_pow(${real} a, ${real} b) {
  return (isnan(b) || (fabs(a) == ONE && isinf(b))) ? (${real})NAN : pow(a, b);
}
inline ${real} hp_min(${real} a, ${real} b) {
  return (isnan(a) || isnan(b)) ? (${real})NAN : (a < b || (a == b && signbit(a))) ? a : b;
}
inline ${real} hp_max(${real} a, ${real} b) {
  return (isnan(a) || isnan(b)) ? (${real})NAN : (a > b || (a == b && !signbit(a))) ? a : b;
}
${remainder(real)}
inline ${real} hp_imod(${real} a, ${real} b) { return b == ZERO ? ZERO : hp_mod(a, b); }
`;

// The floored remainder in double, then rounded once, as the CPU computes it also for float32;
// in float steps on devices without fp64 (within an ulp of the float result).
const remainder = (real: RealType) =>
  real === 'double'
    ? 'inline double hp_mod(double a, double b) { return a - floor(a / b) * b; }'
    : `#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
inline float hp_mod(float a, float b) { double x = a, y = b; return (float)(x - floor(x / y) * y); }
#else
inline float hp_mod(float a, float b) { return a - floor(a / b) * b; }
#endif`;

function translate(op: string): (...args: string[]) => string {
  const emit = OPENCL[op];
  if (!emit) throw new Error(`opencl.evaluate: the operation '${op}' has no OpenCL translation`);
  return emit;
}

export interface GeneratedExpression {
  /** Declarations of the inputs x0..xk, in ElementwiseKernel syntax. */
  parameters: string;
  /** Helpers and `hp_value(inputs..., i)`, which computes the expression at index i. */
  preamble: string;
  /** The call computing element i. */
  value: string;
}

/** OpenCL C computing `ir`'s single output for one index, reading the inputs as `codes` says. */
export function generateExpression(ir: Ir, codes: readonly InputCode[], real: RealType): GeneratedExpression {
  if (ir.outputs.length !== 1) throw new Error('internal: opencl.evaluate compiles one output');
  const live = liveValues(ir);
  const names: string[] = [];
  const lines: string[] = [];
  ir.values.forEach((v, i) => {
    if (!live[i]) return;
    if (v.kind === 'const') {
      names[i] = literal(v.value, real);
      return;
    }
    names[i] = `v${i}`;
    const expr =
      v.kind === 'input'
        ? `(${real})${codes[v.index] === 's' ? `x${v.index}` : `x${v.index}[i]`}`
        : translate(OPS[v.op].name)(...v.args.map((a) => names[a]));
    lines.push(`  const ${real} v${i} = ${expr};`);
  });
  const params = codes.map((code, k) => (code === 's' ? `${real} x${k}` : `const ${elementTypes[code]} *x${k}`));
  const args = codes.map((_, k) => `x${k}`);
  const signature = [
    ...codes.map((code, k) => (code === 's' ? `const ${real} x${k}` : `__global const ${elementTypes[code]} *x${k}`)),
    'const ulong i',
  ];
  const result = names[ir.outputs[0].value];
  return {
    parameters: params.join(', '),
    preamble: [
      '#pragma OPENCL FP_CONTRACT OFF',
      helpers(real),
      `inline ${real} hp_value(${signature.join(', ')}) {`,
      ...lines,
      `  return ${result};`,
      '}',
    ].join('\n'),
    value: `hp_value(${[...args, 'i'].join(', ')})`,
  };
}
