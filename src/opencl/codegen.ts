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
  /** Declarations of the inputs x0..xk (and hp_layout when any input is strided), in ElementwiseKernel syntax. */
  parameters: string;
  /** Helpers and `hp_value(inputs..., i)`, which computes the expression at index i. */
  preamble: string;
  /** The call computing element i. */
  value: string;
  /** The call computing the element at another (C-order, flat) index of the result. */
  valueAt(index: string): string;
}

/**
 * Which inputs are strided: input k reads `x_k[offset_k + Σ index[d] * strides_k[d]]` over the result's
 * dimensions instead of `x_k[i]`. The kernel receives the number of dimensions, the result's shape and each
 * strided input's offset and strides in `hp_layout` (layoutWords()), so one kernel serves every shape.
 */
export type StridedInputs = readonly boolean[];

/** The longs of hp_layout: ndim, the shape, then per strided input its offset and its ndim strides. */
export function layoutWords(
  shape: readonly number[],
  inputs: readonly { offset: number; strides: number[] }[],
): BigInt64Array {
  return BigInt64Array.from([shape.length, ...shape, ...inputs.flatMap((x) => [x.offset, ...x.strides])], BigInt);
}

// Offsets of the strided inputs for index i: i is split into coordinates from the last dimension up.
function stridedOffsets(strided: StridedInputs): string[] {
  const indexed = strided.flatMap((isStrided, k) => (isStrided ? [k] : []));
  if (indexed.length === 0) return [];
  // Input j's offset is at 1 + ndim + j * (ndim + 1), its strides follow.
  const at = (j: number) => `hp_layout[${j + 1} + ${j + 1} * hp_ndim]`;
  return [
    '  const int hp_ndim = (int)hp_layout[0];',
    ...indexed.map((k, j) => `  long hp_o${k} = ${at(j)};`),
    '  ulong hp_rest = i;',
    '  for (int d = hp_ndim - 1; d >= 0; d--) {',
    '    const ulong hp_extent = (ulong)hp_layout[1 + d];',
    '    const long hp_c = (long)(hp_rest % hp_extent);',
    '    hp_rest /= hp_extent;',
    ...indexed.map((k, j) => `    hp_o${k} += hp_c * hp_layout[${j + 2} + ${j + 1} * hp_ndim + d];`),
    '  }',
  ];
}

/** OpenCL C computing `ir`'s single output for one index, reading the inputs as `codes` and `strided` say. */
export function generateExpression(
  ir: Ir,
  codes: readonly InputCode[],
  real: RealType,
  strided: StridedInputs = [],
): GeneratedExpression {
  if (ir.outputs.length !== 1) throw new Error('internal: opencl.evaluate compiles one output');
  const live = liveValues(ir);
  const names: string[] = [];
  const lines: string[] = stridedOffsets(strided);
  const read = (k: number) => (codes[k] === 's' ? `x${k}` : `x${k}[${strided[k] ? `hp_o${k}` : 'i'}]`);
  ir.values.forEach((v, i) => {
    if (!live[i]) return;
    if (v.kind === 'const') {
      names[i] = literal(v.value, real);
      return;
    }
    names[i] = `v${i}`;
    const expr =
      v.kind === 'input' ? `(${real})${read(v.index)}` : translate(OPS[v.op].name)(...v.args.map((a) => names[a]));
    lines.push(`  const ${real} v${i} = ${expr};`);
  });
  const anyStrided = strided.some(Boolean);
  const params = codes.map((code, k) => (code === 's' ? `${real} x${k}` : `const ${elementTypes[code]} *x${k}`));
  const args = codes.map((_, k) => `x${k}`);
  const signature = codes.map((code, k) =>
    code === 's' ? `const ${real} x${k}` : `__global const ${elementTypes[code]} *x${k}`,
  );
  if (anyStrided) {
    params.push('const long *hp_layout');
    args.push('hp_layout');
    signature.push('__global const long *hp_layout');
  }
  const result = names[ir.outputs[0].value];
  const valueAt = (index: string) => `hp_value(${[...args, index].join(', ')})`;
  return {
    parameters: params.join(', '),
    preamble: [
      '#pragma OPENCL FP_CONTRACT OFF',
      helpers(real),
      `inline ${real} hp_value(${[...signature, 'const ulong i'].join(', ')}) {`,
      ...lines,
      `  return ${result};`,
      '}',
    ].join('\n'),
    value: valueAt('i'),
    valueAt,
  };
}
