// Compiles the SSA program to the native interpreter's bytecode: register-based, every register is
// one block of elements. Temporaries are reused as soon as their last reader has run, so a program
// touches few blocks (they stay in L1/L2). Layout (Int32Array), decoded by native/expr/expr_kernel.cc:
//   header   [nInputs, nConstants, nOutputs, nTemps, nInstructions]
//   outputs  nOutputs x [kind, sourceRegister]       kind: OutputKind
//   code     nInstructions x [opcode, dst, a, b, c]  unused operands are 0
// Registers: inputs, then constants, then one per output (the output array itself, elementwise
// outputs only), then temporaries. With one elementwise output the last instruction writes straight
// into the output array; with several, results are copied at the end of each block so an output that
// aliases an input never overwrites it before another output has read it.
import { liveValues } from '../lang/ir.js';
import { OPCODE, OPS } from '../lang/ops.js';
import type { TypedIr } from '../lang/typed.js';

const CAST = OPCODE.get('cast')!;
const COPY = OPCODE.get('copy')!;

/**
 * The compute type the block VM runs `ir` in, or null when it needs kinds the VM does not have yet
 * (integer and bool values): float64 when every value is float64 but the inputs (converted as they
 * are loaded) and their casts, float32 when everything is float32. Others run on the fused JS loop.
 */
export function blockVmType(ir: TypedIr): 'float32' | 'float64' | null {
  const live = liveValues(ir);
  const casts = new Set<number>();
  let float32 = true;
  let float64 = true;
  ir.values.forEach((v, i) => {
    if (!live[i]) return;
    if (v.kind === 'input') {
      if (v.type === 'int64') float32 = float64 = false;
      if (v.type !== 'float32') float32 = false;
      return;
    }
    if (v.kind === 'op' && v.op === CAST && ir.values[v.args[0]].kind === 'input') casts.add(i);
    if (v.type !== 'float32') float32 = false;
    if (v.type !== 'float64' && !casts.has(i)) float64 = false;
  });
  const type = float32 ? 'float32' : float64 ? 'float64' : null;
  // Outputs (arrays, reductions) are all of the compute type, including an output that is an input.
  return ir.outputs.every((out) => ir.values[out.value].type === type) ? type : null;
}

export const enum OutputKind {
  Elementwise = 0,
  Sum = 1,
  Prod = 2,
  Min = 3,
  Max = 4,
}

const KIND: Record<string, OutputKind> = {
  sum: OutputKind.Sum,
  mean: OutputKind.Sum,
  prod: OutputKind.Prod,
  min: OutputKind.Min,
  max: OutputKind.Max,
};
const HEADER = 5;
const INSTRUCTION = 5;

export interface Bytecode {
  code: Int32Array;
  constants: Float64Array;
}

export function compileBytecode(ir: TypedIr): Bytecode {
  const live = liveValues(ir);
  const nInputs = ir.inputs.length;
  const constantValues: number[] = [];
  const register: number[] = [];
  ir.values.forEach((v, i) => {
    if (!live[i]) return;
    if (v.kind === 'input') register[i] = v.index;
    if (v.kind === 'const') register[i] = nInputs + constantValues.push(Number(v.value)) - 1;
  });
  const nOutputs = ir.outputs.length;
  const outputRegister = (k: number) => nInputs + constantValues.length + k;
  const firstTemp = outputRegister(nOutputs);

  // Last instruction (SSA index) reading each value; outputs' sources stay live to the end.
  const lastUse = new Array<number>(ir.values.length).fill(-1);
  ir.values.forEach((v, i) => {
    if (live[i] && v.kind === 'op') for (const a of v.args) lastUse[a] = i;
  });
  for (const out of ir.outputs) lastUse[out.value] = Infinity;
  const direct = nOutputs === 1 && ir.outputs[0].reduction === null ? ir.outputs[0].value : -1;

  const free: number[] = [];
  let nTemps = 0;
  const instructions: number[] = [];
  ir.values.forEach((v, i) => {
    if (!live[i] || v.kind !== 'op') return;
    for (const a of new Set(v.args)) {
      if (lastUse[a] === i && register[a] >= firstTemp) free.push(register[a]);
    }
    if (i === direct) register[i] = outputRegister(0);
    else register[i] = free.pop() ?? firstTemp + nTemps++;
    const operands = v.args.map((a) => register[a]);
    // The VM converts inputs as it loads them: a cast is a copy in its one compute type.
    instructions.push(v.op === CAST ? COPY : v.op, register[i], operands[0], operands[1] ?? 0, operands[2] ?? 0);
  });

  const code = new Int32Array(HEADER + 2 * nOutputs + instructions.length);
  code.set([nInputs, constantValues.length, nOutputs, nTemps, instructions.length / INSTRUCTION]);
  ir.outputs.forEach((out, k) => {
    code[HEADER + 2 * k] = out.reduction ? KIND[out.reduction] : OutputKind.Elementwise;
    code[HEADER + 2 * k + 1] = register[out.value];
  });
  code.set(instructions, HEADER + 2 * nOutputs);
  return { code, constants: Float64Array.from(constantValues) };
}

/** Human-readable listing (Program.toString()): registers named in0, k1, out0, t2. */
export function disassemble({ code, constants }: Bytecode): string {
  const [nInputs, nConstants, nOutputs] = code;
  const name = (r: number): string => {
    if (r < nInputs) return `in${r}`;
    if (r < nInputs + nConstants) return `k${r - nInputs}(${constants[r - nInputs]})`;
    if (r < nInputs + nConstants + nOutputs) return `out${r - nInputs - nConstants}`;
    return `t${r - nInputs - nConstants - nOutputs}`;
  };
  const lines: string[] = [];
  const start = HEADER + 2 * nOutputs;
  for (let p = start; p < code.length; p += INSTRUCTION) {
    const op = OPS[code[p]];
    const args = Array.from(code.subarray(p + 2, p + 2 + op.arity), name);
    lines.push(`${name(code[p + 1]).padEnd(6)} = ${op.name} ${args.join(', ')}`);
  }
  for (let k = 0; k < nOutputs; k++) {
    const kind = code[HEADER + 2 * k];
    const source = name(code[HEADER + 2 * k + 1]);
    lines.push(
      kind === OutputKind.Elementwise
        ? `out${k} <- ${source}`
        : `out${k} <- ${['', 'sum', 'prod', 'min', 'max'][kind]}(${source})`,
    );
  }
  return lines.join('\n');
}
