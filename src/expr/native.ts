// Binding glue: hands a compiled program's bytecode, inputs and output arrays to the C++ VM (flat runs and
// n-d runs), and reads its reductions back (each a raw 64-bit word: a double, or an int64 for int64 operands).
import { requireNative } from '../core/loader.js';
import type { NativeAddon } from '../core/addon.js';
import type { Bytecode } from './bytecode.js';
import type { Accumulator, InputValue, OutputArray } from './kernel.js';
import { OPS } from '../lang/ops.js';
import type { Kind } from '../lang/types.js';
import type { Reduction } from '../lang/ast.js';
import type { View } from '../lang/ndarray.js';

export interface NativeRun {
  bytecode: Bytecode;
  inputs: InputValue[];
  outputs: (OutputArray | null)[];
  /** The kind of each output's values (int64 reductions come back as int64 bits). */
  kinds: Kind[];
  n: number;
  threads: number;
  blockSize: number;
}

let checked = false;

// The opcode numbering is a contract between ops.ts and expr_kernel.h: a stale addon built from
// other sources must fail loudly instead of running the wrong operations.
function vm(): NativeAddon {
  const addon = requireNative();
  if (!checked) {
    const names = addon.exprOpNames();
    if (names.join() !== OPS.map((op) => op.name).join()) {
      throw new Error(
        'hotpath: the native expression VM does not match this version of the compiler (rebuild the addon)',
      );
    }
    checked = true;
  }
  return addon;
}

function accumulators(kinds: readonly Kind[], raw: Float64Array): Accumulator[] {
  const int64 = new BigInt64Array(raw.buffer, raw.byteOffset, raw.length);
  return kinds.map((kind, k) => (kind === 'int64' ? int64[k] : raw[k]));
}

const args = (r: NativeRun) =>
  [r.bytecode.code, r.bytecode.constants, r.inputs, r.outputs, r.n, r.threads, r.blockSize] as const;

export function runNative(r: NativeRun): Accumulator[] {
  return accumulators(r.kinds, vm().exprEvaluate(...args(r)));
}

export async function runNativeAsync(r: NativeRun): Promise<Accumulator[]> {
  return accumulators(r.kinds, await vm().exprEvaluateAsync(...args(r)));
}

/** An n-d run: every array input as a view of `shape` (stride 0 along broadcast dimensions). */
export interface NativeNdRun extends Omit<NativeRun, 'n'> {
  views: (View | null)[];
  shape: readonly number[];
  /** Per output: its axis reduction (the output is then null), or null. */
  axes: ({ reduction: Reduction; axis: number; values: Float64Array } | null)[];
}

const AXIS_REDUCTION_CODES: Record<Reduction, number> = { sum: 1, prod: 2, min: 3, max: 4, mean: 5 };

function ndArgs(r: NativeNdRun): Parameters<NativeAddon['exprEvaluateNd']> {
  return [
    r.bytecode.code,
    r.bytecode.constants,
    r.inputs.map((input, i) => r.views[i]?.data ?? input),
    r.views.map((view) => view?.strides ?? null),
    r.views.map((view) => view?.offset ?? 0),
    r.shape,
    r.outputs,
    Int32Array.from(r.axes.flatMap((a) => (a ? [AXIS_REDUCTION_CODES[a.reduction], a.axis] : [0, 0]))),
    r.axes.map((a) => a?.values ?? null),
    r.threads,
    r.blockSize,
  ];
}

export function runNativeNd(r: NativeNdRun): Accumulator[] {
  return accumulators(r.kinds, vm().exprEvaluateNd(...ndArgs(r)));
}

export async function runNativeNdAsync(r: NativeNdRun): Promise<Accumulator[]> {
  return accumulators(r.kinds, await vm().exprEvaluateNdAsync(...ndArgs(r)));
}
