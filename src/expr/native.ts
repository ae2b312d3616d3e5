// Binding glue: hands a compiled program's bytecode, inputs and output arrays to the C++ VM.
import { requireNative } from '../core/loader.js';
import type { NativeAddon } from '../core/addon.js';
import type { Bytecode } from './bytecode.js';
import type { ElementArray } from './kernel.js';
import { OPS } from '../lang/ops.js';

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
