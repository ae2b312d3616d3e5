// Pure-TS backend: generates ONE fused loop per program and input signature with `new Function`,
// so V8 JIT-compiles it like a hand-written loop (no temporaries, monomorphic array reads).
// Values depending only on scalars and constants are hoisted out of the loop. In float32 mode every
// op result is rounded with Math.fround, which computes in float32 exactly as the native path does.
import { type Ir, type IrOutput, liveValues } from '../lang/ir.js';
import { JS_HELPERS, OPS } from '../lang/ops.js';
import type { ArrayCode, ElementArray } from '../lang/types.js';

/** One character per input: an ArrayCode (types.ts) for a typed array, s for a scalar (number). */
export type InputCode = ArrayCode | 's';
export type { ElementArray };
export type InputValue = ElementArray | number;
/** Result array per output (null for reduction outputs); returns each output's raw reduction accumulator (NaN for elementwise outputs). */
export type FusedLoop = (
  inputs: readonly InputValue[],
  outputs: readonly (Float64Array | Float32Array | null)[],
  n: number,
) => number[];

function literal(value: number): string {
  if (Object.is(value, -0)) return '(-0)';
  if (Number.isNaN(value)) return 'NaN';
  return value < 0 ? `(${value})` : String(value);
}

/**
 * Deepest chain of values inlined into one JS expression. Past it a value gets its own `const`:
 * V8's parser recurses per nested parenthesis, so a 10,000-term sum inlined whole would not compile.
 */
const MAX_INLINE_DEPTH = 64;

const REDUCE_INIT = { sum: '0', mean: '0', prod: '1', min: 'Infinity', max: '-Infinity' } as const;

function reduceStep(out: IrOutput, acc: string, v: string): string {
  switch (out.reduction) {
    case 'sum':
    case 'mean':
      return `${acc} += ${v};`;
    case 'prod':
      return `${acc} *= ${v};`;
    case 'min':
      return `if (${v} < ${acc} || ${v} !== ${v}) ${acc} = ${v};`;
    case 'max':
      return `if (${v} > ${acc} || ${v} !== ${v}) ${acc} = ${v};`;
    case null:
      return '';
  }
}

/**
 * JS source of the fused loop for `ir` over inputs of the given kinds (exported for Program.toString()).
 * A value read once is inlined into its reader, so `where(c, sqrt(a), b*b)` becomes a ternary that
 * evaluates only the taken branch, as a hand-written loop would (no op has side effects). With several
 * elementwise outputs every result is computed before the first store, so an output that aliases an
 * input never changes what a later output reads.
 */
export function fusedLoopSource(ir: Ir, codes: readonly InputCode[], float32: boolean): string {
  const live = liveValues(ir);
  const uses = new Array<number>(ir.values.length).fill(0);
  ir.values.forEach((v, i) => {
    if (live[i] && v.kind === 'op') for (const a of v.args) uses[a]++;
  });
  const elementwise = ir.outputs.filter((o) => !o.reduction).length;
  for (const out of ir.outputs) uses[out.value] += out.reduction || elementwise > 1 ? 2 : 1;
  const invariant = ir.values.map(() => true);
  const round = (expr: string) => (float32 ? `f(${expr})` : expr);
  const hoisted: string[] = [];
  const body: string[] = [];
  const names: string[] = [];
  const depth = new Array<number>(ir.values.length).fill(0);
  ir.values.forEach((v, i) => {
    if (!live[i]) return;
    if (v.kind === 'const') {
      names[i] = literal(float32 ? Math.fround(v.value) : v.value);
      return;
    }
    let expr: string;
    if (v.kind === 'input') {
      invariant[i] = codes[v.index] === 's';
      expr = invariant[i] ? round(`x${v.index}`) : `x${v.index}[i]`;
    } else {
      invariant[i] = v.args.every((a) => invariant[a]);
      expr = round(OPS[v.op].js(...v.args.map((a) => names[a])));
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
  const accs = ir.outputs.map((out, k) => (out.reduction ? `let r${k} = ${REDUCE_INIT[out.reduction]};` : ''));
  const writes = ir.outputs.map((out, k) =>
    out.reduction ? reduceStep(out, `r${k}`, names[out.value]) : `o${k}[i] = ${names[out.value]};`,
  );
  return [
    '"use strict";',
    JS_HELPERS,
    ...(float32 ? ['const f = Math.fround;'] : []),
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

export function buildFusedLoop(ir: Ir, codes: readonly InputCode[], float32: boolean): FusedLoop {
  return new Function('inputs', 'outputs', 'n', fusedLoopSource(ir, codes, float32)) as FusedLoop;
}
