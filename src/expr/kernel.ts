// Pure-TS backend: generates ONE fused loop per program and input signature with `new Function`,
// so V8 JIT-compiles it like a hand-written loop (no temporaries, monomorphic array reads).
// Values depending only on scalars and constants are hoisted out of the loop. Each op computes in
// its kind (src/lang/typed.ts): float32 results are rounded with Math.fround, which computes in
// float32 exactly as the native path does; int32 wraps with |0 and Math.imul; int64 values are
// BigInts wrapped with BigInt.asIntN (exact, and slow: the native VM is the fast path for int64).
import { liveValues } from '../lang/ir.js';
import { JS_HELPERS } from '../lang/ops.js';
import { type TypedIr, typedJs } from '../lang/typed.js';
import type { ArrayCode, ElementArray, Kind } from '../lang/types.js';
import type { Reduction } from '../lang/ast.js';

/** One character per input: an ArrayCode (types.ts) for a typed array, s for a scalar. */
export type InputCode = ArrayCode | 's';
export type { ElementArray };
/** A typed array, or a scalar: a number (float64 or bool 0/1) or a bigint (int64). */
export type InputValue = ElementArray | number | bigint;
/** An elementwise result array of any kind (types.ts RESULT_ARRAY). */
export type OutputArray = Float64Array | Float32Array | Int32Array | BigInt64Array | Uint8Array;
/** A reduction's raw accumulator: a number, or a bigint for int64. */
export type Accumulator = number | bigint;
/**
 * Result array per output (null for reduction outputs); returns each output's raw reduction accumulator (NaN for
 * elementwise outputs).
 */
export type FusedLoop = (
  inputs: readonly InputValue[],
  outputs: readonly (OutputArray | null)[],
  n: number,
) => Accumulator[];

function literal(value: number | bigint): string {
  if (typeof value === 'bigint') return value < 0n ? `(${value}n)` : `${value}n`;
  if (Object.is(value, -0)) return '(-0)';
  if (Number.isNaN(value)) return 'NaN';
  return value < 0 ? `(${value})` : String(value);
}

/**
 * Deepest chain of values inlined into one JS expression. Past it a value gets its own `const`:
 * V8's parser recurses per nested parenthesis, so a 10,000-term sum inlined whole would not compile.
 */
const MAX_INLINE_DEPTH = 64;

/** A reduction's identity in its kind (min/max of integers start at the kind's extreme). */
export function reduceInit(reduction: Reduction, kind: Kind): string {
  const int64 = kind === 'int64';
  if (reduction === 'sum' || reduction === 'mean') return int64 ? '0n' : '0';
  if (reduction === 'prod') return int64 ? '1n' : '1';
  if (kind === 'int32') return reduction === 'min' ? '2147483647' : '(-2147483648)';
  if (int64) return reduction === 'min' ? '9223372036854775807n' : '(-9223372036854775808n)';
  return reduction === 'min' ? 'Infinity' : '-Infinity';
}

/** `acc` combined with `v` in the kind: int32 wraps, int64 wraps at 2^64, a bool sum counts, float min/max keep NaN. */
export function reduceStep(reduction: Reduction, kind: Kind, acc: string, v: string): string {
  const sum = reduction === 'sum' || reduction === 'mean';
  if (kind === 'int32' && (sum || reduction === 'prod'))
    return sum ? `${acc} = (${acc} + ${v}) | 0;` : `${acc} = Math.imul(${acc}, ${v});`;
  if (kind === 'int64' && (sum || reduction === 'prod'))
    return `${acc} = BigInt.asIntN(64, ${acc} ${sum ? '+' : '*'} ${v});`;
  if (sum) return `${acc} += ${v};`;
  if (reduction === 'prod') return `${acc} *= ${v};`;
  const nan = isFloat(kind) ? ` || ${v} !== ${v}` : '';
  return `if (${v} ${reduction === 'min' ? '<' : '>'} ${acc}${nan}) ${acc} = ${v};`;
}

const combiners = new Map<string, (a: Accumulator, b: Accumulator) => Accumulator>();

/** Two partial accumulators (chunks of one run) as one, with the loops' own step. */
export function combineAccumulators(reduction: Reduction, kind: Kind, a: Accumulator, b: Accumulator): Accumulator {
  const key = `${reduction}:${kind}`;
  let combiner = combiners.get(key);
  if (!combiner) {
    const body = `let acc = a;\n${reduceStep(reduction, kind, 'acc', 'b')}\nreturn acc;`;
    combiner = new Function('a', 'b', body) as (a: Accumulator, b: Accumulator) => Accumulator;
    combiners.set(key, combiner);
  }
  return combiner(a, b);
}

const isFloat = (kind: Kind) => kind === 'float32' || kind === 'float64';

/**
 * JS source of the fused loop for `ir` over inputs of the given kinds (exported for Program.toString()).
 * A value read once is inlined into its reader, so `where(c, sqrt(a), b*b)` becomes a ternary that
 * evaluates only the taken branch, as a hand-written loop would (no op has side effects). With several
 * elementwise outputs every result is computed before the first store, so an output that aliases an
 * input never changes what a later output reads.
 */
export function fusedLoopSource(ir: TypedIr, codes: readonly InputCode[]): string {
  const live = liveValues(ir);
  const uses = new Array<number>(ir.values.length).fill(0);
  ir.values.forEach((v, i) => {
    if (live[i] && v.kind === 'op') for (const a of v.args) uses[a]++;
  });
  const elementwise = ir.outputs.filter((o) => !o.reduction).length;
  for (const out of ir.outputs) uses[out.value] += out.reduction || elementwise > 1 ? 2 : 1;
  const invariant = ir.values.map(() => true);
  const hoisted: string[] = [];
  const body: string[] = [];
  const names: string[] = [];
  const depth = new Array<number>(ir.values.length).fill(0);
  ir.values.forEach((v, i) => {
    if (!live[i]) return;
    if (v.kind === 'const') {
      names[i] = literal(v.value);
      return;
    }
    let expr: string;
    if (v.kind === 'input') {
      invariant[i] = codes[v.index] === 's';
      // A Uint32Array is int64 (numexpr's rule: uint32 does not fit int32); a bool byte other than 0 is true.
      const code = codes[v.index];
      const read = `x${v.index}[i]`;
      expr = invariant[i]
        ? `x${v.index}`
        : code === 'I'
          ? `BigInt(${read})`
          : code === '?'
            ? `(${read} !== 0 ? 1 : 0)`
            : read;
    } else {
      invariant[i] = v.args.every((a) => invariant[a]);
      expr = typedJs(
        ir.values,
        v,
        v.args.map((a) => names[a]),
      );
      depth[i] = 1 + Math.max(...v.args.map((a) => depth[a]));
    }
    if (!invariant[i] && uses[i] === 1 && depth[i] < MAX_INLINE_DEPTH) {
      names[i] = expr;
      return;
    }
    names[i] = `v${i}`;
    depth[i] = 0;
    (invariant[i] ? hoisted : body).push(`const v${i} = ${expr};`);
  });
  const kindOf = (k: number) => ir.values[ir.outputs[k].value].type;
  const accs = ir.outputs.map((out, k) =>
    out.reduction ? `let r${k} = ${reduceInit(out.reduction, kindOf(k))};` : '',
  );
  const writes = ir.outputs.map((out, k) =>
    out.reduction ? reduceStep(out.reduction, kindOf(k), `r${k}`, names[out.value]) : `o${k}[i] = ${names[out.value]};`,
  );
  return [
    '"use strict";',
    JS_HELPERS,
    'const f = Math.fround;',
    ...codes.map((_, k) => `const x${k} = inputs[${k}];`),
    ...ir.outputs.map((out, k) => (out.reduction ? '' : `const o${k} = outputs[${k}];`)),
    ...hoisted,
    ...accs,
    'for (let i = 0; i < n; i++) {',
    ...body.map((line) => `  ${line}`),
    ...writes.map((line) => `  ${line}`),
    '}',
    `return [${ir.outputs.map((out, k) => (out.reduction ? `r${k}` : 'NaN')).join(', ')}];`,
  ]
    .filter((line) => line !== '')
    .join('\n');
}

export function buildFusedLoop(ir: TypedIr, codes: readonly InputCode[]): FusedLoop {
  return new Function('inputs', 'outputs', 'n', fusedLoopSource(ir, codes)) as FusedLoop;
}
