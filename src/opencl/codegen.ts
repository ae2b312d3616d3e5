// Generates OpenCL C from the expression language's typed SSA program (src/lang/ir.ts lowered, then
// src/lang/typed.ts): the same parser, constant folding, common-subexpression elimination, integer-power
// unrolling and numexpr kinds per operation as the CPU `evaluate`, so both compute the same operations in the
// same kinds in the same order. Each op mirrors the JS semantics in src/lang/ops.ts: NaN handling of
// min/max/pow, integer wrap-around (computed in unsigned arithmetic: signed overflow is undefined in OpenCL C
// as in C), floored integer remainders that are 0 for a zero divisor, shift counts modulo the width. FP_CONTRACT
// is off so a*b + c never becomes an fma, which keeps + - * / bit-identical to the CPU.
import { liveValues } from '../lang/ir.js';
import { OPS } from '../lang/ops.js';
import { type TypedIr, type TypedValue, operandKind } from '../lang/typed.js';
import type { Kind } from '../lang/types.js';
import type { ScalarType } from './types.js';

export type RealType = 'float' | 'double';

/** The C type each kind computes in; `precision` may map the float kinds (float32 math on fp64-less devices). */
export interface KindTypes {
  float32: RealType;
  float64: RealType;
}

/** How input k reaches the kernel: a __global array of `element` (its typed array's or Buffer's type), or a scalar. */
export interface KernelInput {
  kind: Kind;
  /** The array's element type, or null for a scalar argument (passed in the kind's own C type). */
  element: ScalarType | null;
}

export function cType(kind: Kind, floats: KindTypes): ScalarType {
  switch (kind) {
    case 'bool':
      return 'uchar';
    case 'int32':
      return 'int';
    case 'int64':
      return 'long';
    default:
      return floats[kind];
  }
}

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

/** A constant of any kind as C (the most negative int32/int64 spelled so that no literal overflows). */
function constantLiteral(value: number | bigint, type: ScalarType): string {
  if (type === 'float' || type === 'double') return literal(Number(value), type);
  if (type === 'uchar') return `((uchar)${Number(value) ? 1 : 0})`;
  if (type === 'int') return value === -(2 ** 31) ? '(-2147483647 - 1)' : `(${Number(value)})`;
  const big = BigInt(value);
  return big === -(2n ** 63n) ? '(-9223372036854775807L - 1L)' : `(${big}L)`;
}

const infix = (op: string) => (a: string, b: string) => `(${a} ${op} ${b})`;
const call =
  (fn: string) =>
  (...args: string[]) =>
    `${fn}(${args.join(', ')})`;
/** An op that wraps around at the width: computed on the unsigned type, converted back. */
const wrapping = (op: string) => (t: string, a: string, b: string) => `((${t})((u${t})${a} ${op} (u${t})${b}))`;

type Emit = (t: ScalarType, ...args: string[]) => string;
const float =
  (emit: (...args: string[]) => string): Emit =>
  (_t, ...args) =>
    emit(...args);
/** A C comparison or logical result is int 0/1: stored as a bool (uchar). */
const test =
  (op: string): Emit =>
  (_t, a, b) =>
    `((uchar)(${a} ${op} ${b}))`;

// OpenCL C for each op of src/lang/ops.ts, by name, given the C type its operands compute in (`t`; after
// typing every op's operands share one kind, see operandKind in typed.ts). Helpers take the type as a suffix.
const OPENCL: Record<string, Emit> = {
  neg: (t, a) => (t === 'int' || t === 'long' ? `((${t})(0 - (u${t})${a}))` : `(-${a})`),
  // Only bool and integer operands (typing makes floats bool first): logical on bool, bitwise on integers.
  not: (t, a) => (t === 'uchar' ? `((uchar)(${a} ^ 1))` : `(~${a})`),
  add: (t, a, b) => (t === 'int' || t === 'long' ? wrapping('+')(t, a, b) : `(${a} + ${b})`),
  sub: (t, a, b) => (t === 'int' || t === 'long' ? wrapping('-')(t, a, b) : `(${a} - ${b})`),
  mul: (t, a, b) => (t === 'int' || t === 'long' ? wrapping('*')(t, a, b) : `(${a} * ${b})`),
  div: float(infix('/')),
  mod: (t, a, b) => `hp_mod_${t}(${a}, ${b})`, // numexpr's floored remainder x - floor(x/y)*y
  imod: (t, a, b) => `hp_imod_${t}(${a}, ${b})`, // floored, on integers; 0 for a zero divisor (NumPy)
  fmod: float(call('fmod')), // the truncated remainder, JS %, exact in both
  pow: (t, a, b) => `hp_pow_${t}(${a}, ${b})`,
  lt: test('<'),
  le: test('<='),
  eq: test('=='),
  ne: test('!='),
  ge: test('>='),
  gt: test('>'),
  and: (t, a, b) => `((${t})(${a} & ${b}))`,
  or: (t, a, b) => `((${t})(${a} | ${b}))`,
  where: (_t, c, a, b) => `(${c} ? ${a} : ${b})`,
  sin: float(call('sin')),
  cos: float(call('cos')),
  tan: float(call('tan')),
  arcsin: float(call('asin')),
  arccos: float(call('acos')),
  arctan: float(call('atan')),
  sinh: float(call('sinh')),
  cosh: float(call('cosh')),
  tanh: float(call('tanh')),
  arcsinh: float(call('asinh')),
  arccosh: float(call('acosh')),
  arctanh: float(call('atanh')),
  exp: float(call('exp')),
  expm1: float(call('expm1')),
  log: float(call('log')),
  log1p: float(call('log1p')),
  log10: float(call('log10')),
  log2: float(call('log2')),
  sqrt: float(call('sqrt')),
  cbrt: float(call('cbrt')),
  abs: float(call('fabs')),
  floor: float(call('floor')),
  ceil: float(call('ceil')),
  trunc: float(call('trunc')),
  arctan2: float(call('atan2')),
  hypot: float(call('hypot')),
  minimum: (t, a, b) => `hp_min_${t}(${a}, ${b})`,
  maximum: (t, a, b) => `hp_max_${t}(${a}, ${b})`,
  copy: (_t, a) => a,
  ones_like: (t) => `((${t})1)`,
  // The count modulo the width, as JS, x86 and numexpr 2.8; a left shift wraps (unsigned).
  shl: (t, a, b) => `((${t})((u${t})${a} << (${b} & ${t === 'long' ? 63 : 31})))`,
  shr: (t, a, b) => `(${a} >> (${b} & ${t === 'long' ? 63 : 31}))`,
};

// JS semantics where C's differ: Math.pow(1, NaN) and Math.pow(±1, ±Infinity) are NaN (C: 1);
// Math.min/max return NaN if either side is NaN (fmin/fmax return the other) and order -0 < +0.
const floatHelpers = (t: RealType) => `
inline ${t} hp_pow_${t}(${t} a, ${t} b) {
  return (isnan(b) || (fabs(a) == (${t})1 && isinf(b))) ? (${t})NAN : pow(a, b);
}
inline ${t} hp_min_${t}(${t} a, ${t} b) {
  return (isnan(a) || isnan(b)) ? (${t})NAN : (a < b || (a == b && signbit(a))) ? a : b;
}
inline ${t} hp_max_${t}(${t} a, ${t} b) {
  return (isnan(a) || isnan(b)) ? (${t})NAN : (a > b || (a == b && !signbit(a))) ? a : b;
}
${remainder(t)}`;

// The floored remainder in double, then rounded once, as the CPU computes it also for float32;
// in float steps on devices without fp64 (within an ulp of the float result).
const remainder = (t: RealType) =>
  t === 'double'
    ? 'inline double hp_mod_double(double a, double b) { return a - floor(a / b) * b; }'
    : `#ifdef cl_khr_fp64
inline float hp_mod_float(float a, float b) { double x = a, y = b; return (float)(x - floor(x / y) * y); }
#else
inline float hp_mod_float(float a, float b) { return a - floor(a / b) * b; }
#endif`;

// Integers: the floored remainder (the divisor's sign), 0 for a zero divisor; INT_MIN % -1 is 0 (C's %
// would trap on it, so -1 never reaches it). min/max are plain comparisons.
const integerHelpers = (t: 'int' | 'long') => `
inline ${t} hp_imod_${t}(${t} a, ${t} b) {
  if (b == 0 || b == -1) return 0;
  const ${t} r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
inline ${t} hp_min_${t}(${t} a, ${t} b) { return a < b ? a : b; }
inline ${t} hp_max_${t}(${t} a, ${t} b) { return a > b ? a : b; }`;

/** The C converting `x` from one C type to another as the CPU's casts do (typed.ts castJs). */
function castC(from: ScalarType, to: ScalarType, x: string): string {
  if (to === 'uchar') return `((uchar)(${x} != 0))`;
  // Integer to float conversions round to nearest even in OpenCL C (one rounding, as hp_i64f32 on the CPU).
  return from === to ? x : `((${to})${x})`;
}

function translate(op: string): Emit {
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

/** The C type of an SSA value, and of the operands of an op (they share one kind after typing). */
function valueTypes(ir: TypedIr, floats: KindTypes, v: TypedValue): { result: ScalarType; operands: ScalarType } {
  const result = cType(v.type, floats);
  return { result, operands: v.kind === 'op' ? cType(operandKind(ir.values, v), floats) : result };
}

/** OpenCL C computing `ir`'s single output for one index, reading the inputs as `inputs` and `strided` say. */
export function generateExpression(
  ir: TypedIr,
  inputs: readonly KernelInput[],
  floats: KindTypes,
  strided: StridedInputs = [],
): GeneratedExpression {
  if (ir.outputs.length !== 1) throw new Error('internal: opencl.evaluate compiles one output');
  const live = liveValues(ir);
  const names: string[] = [];
  const lines: string[] = stridedOffsets(strided);
  const used = new Set<ScalarType>();
  const read = (k: number) => (inputs[k].element === null ? `x${k}` : `x${k}[${strided[k] ? `hp_o${k}` : 'i'}]`);
  ir.values.forEach((v, i) => {
    if (!live[i]) return;
    const { result, operands } = valueTypes(ir, floats, v);
    used.add(result).add(operands);
    if (v.kind === 'const') {
      names[i] = constantLiteral(v.value, result);
      return;
    }
    names[i] = `v${i}`;
    let expr: string;
    if (v.kind === 'input') {
      const element = inputs[v.index].element ?? result;
      expr = element === result ? read(v.index) : `((${result})${read(v.index)})`;
    } else if (OPS[v.op].name === 'cast') {
      expr = castC(cType(ir.values[v.args[0]].type, floats), result, names[v.args[0]]);
    } else {
      expr = translate(OPS[v.op].name)(operands, ...v.args.map((a) => names[a]));
    }
    lines.push(`  const ${result} v${i} = ${expr};`);
  });
  const scalarType = (k: number) => cType(inputs[k].kind, floats);
  const params = inputs.map((input, k) =>
    input.element === null ? `${scalarType(k)} x${k}` : `const ${input.element} *x${k}`,
  );
  const args = inputs.map((_, k) => `x${k}`);
  const signature = inputs.map((input, k) =>
    input.element === null ? `const ${scalarType(k)} x${k}` : `__global const ${input.element} *x${k}`,
  );
  if (strided.some(Boolean)) {
    params.push('const long *hp_layout');
    args.push('hp_layout');
    signature.push('__global const long *hp_layout');
  }
  const output = ir.values[ir.outputs[0].value];
  const valueAt = (index: string) => `hp_value(${[...args, index].join(', ')})`;
  return {
    parameters: params.join(', '),
    preamble: [
      '#pragma OPENCL FP_CONTRACT OFF',
      // Where the device has it, double is available to every helper (the float remainder computes in it).
      '#ifdef cl_khr_fp64',
      '#pragma OPENCL EXTENSION cl_khr_fp64 : enable',
      '#endif',
      ...(['float', 'double'] as const).filter((t) => used.has(t)).map(floatHelpers),
      ...(['int', 'long'] as const).filter((t) => used.has(t)).map(integerHelpers),
      `inline ${cType(output.type, floats)} hp_value(${[...signature, 'const ulong i'].join(', ')}) {`,
      ...lines,
      `  return ${names[ir.outputs[0].value]};`,
      '}',
    ].join('\n'),
    value: valueAt('i'),
    valueAt,
  };
}

/** The C types a generated program computes in (which the device must support: double needs cl_khr_fp64). */
export function typesUsed(ir: TypedIr, floats: KindTypes): Set<ScalarType> {
  const live = liveValues(ir);
  const used = new Set<ScalarType>();
  ir.values.forEach((v, i) => {
    if (live[i]) used.add(cType(v.type, floats));
  });
  return used;
}
