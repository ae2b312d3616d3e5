// Binding glue: hands a compiled program's bytecode, inputs and output arrays to the C++ VM.
import { requireNative } from '../core/loader.js';
import type { NativeAddon } from '../core/addon.js';
import type { Bytecode } from './bytecode.js';
import type { ElementArray } from './kernel.js';
import { OPS } from '../lang/ops.js';
import type { Reduction } from '../lang/ast.js';
import type { View } from '../lang/ndarray.js';

export interface NativeRun {
  bytecode: Bytecode;
  inputs: (ElementArray | number)[];
  outputs: (Float64Array | Float32Array | null)[];
  n: number;
  float32: boolean;
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

export function runNative(r: NativeRun): Float64Array {
  return vm().exprEvaluate(
    r.bytecode.code,
    r.bytecode.constants,
    r.inputs,
    r.outputs,
    r.n,
    r.float32,
    r.threads,
    r.blockSize,
  );
}

export function runNativeAsync(r: NativeRun): Promise<Float64Array> {
  return vm().exprEvaluateAsync(
    r.bytecode.code,
    r.bytecode.constants,
    r.inputs,
    r.outputs,
    r.n,
    r.float32,
    r.threads,
    r.blockSize,
  );
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
    r.float32,
    r.threads,
    r.blockSize,
  ];
}

export function runNativeNd(r: NativeNdRun): Float64Array {
  return vm().exprEvaluateNd(...ndArgs(r));
}

export function runNativeNdAsync(r: NativeNdRun): Promise<Float64Array> {
  return vm().exprEvaluateNdAsync(...ndArgs(r));
}
