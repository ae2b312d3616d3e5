// Compiles the typed SSA program (src/lang/typed.ts) to the native interpreter's bytecode: register-based,
// every register is one block of elements of its kind. Temporaries are reused (per kind) as soon as their
// last reader has run, so a program touches few blocks (they stay in L1/L2). Layout (Int32Array), decoded
// and validated by native/expr/expr_kernel.cc:
//   header   [nInputs, nConstants, nOutputs, nTemps, nInstructions]
//   kinds    one per register: its kind's index in KINDS (bool 0, int32 1, int64 2, float32 3, float64 4)
//   outputs  nOutputs x [kind, sourceRegister]       kind: OutputKind
//   code     nInstructions x [opcode, dst, a, b, c]  unused operands are 0
// Constants: a Float64Array, an int64 constant as its raw 64 bits. Registers: inputs, then constants, then
// one per output (the output array itself, elementwise outputs only), then temporaries. With one
// elementwise output the last instruction writes straight into the output array; with several, results
// are copied at the end of each block so an output that aliases an input never overwrites it before
// another output has read it.
import { liveValues } from '../lang/ir.js';
import { OPS } from '../lang/ops.js';
import type { TypedIr } from '../lang/typed.js';
import { KINDS, type Kind } from '../lang/types.js';

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
  const constantValues: (number | bigint)[] = [];
  const constantKinds: Kind[] = [];
  const register: number[] = [];
  const inputKinds = ir.inputs.map((): Kind => 'float64');
  ir.values.forEach((v, i) => {
    if (!live[i]) return;
    if (v.kind === 'input') {
      register[i] = v.index;
      inputKinds[v.index] = v.type;
    }
    if (v.kind === 'const') {
      register[i] = nInputs + constantValues.push(v.value) - 1;
      constantKinds.push(v.type);
    }
  });
  const nOutputs = ir.outputs.length;
  const outputRegister = (k: number) => nInputs + constantValues.length + k;
  const firstTemp = outputRegister(nOutputs);
  const kinds: Kind[] = [...inputKinds, ...constantKinds, ...ir.outputs.map((out) => ir.values[out.value].type)];

  // Last instruction (SSA index) reading each value; outputs' sources stay live to the end.
  const lastUse = new Array<number>(ir.values.length).fill(-1);
  ir.values.forEach((v, i) => {
    if (live[i] && v.kind === 'op') for (const a of v.args) lastUse[a] = i;
  });
  for (const out of ir.outputs) lastUse[out.value] = Infinity;
  const direct = nOutputs === 1 && ir.outputs[0].reduction === null ? ir.outputs[0].value : -1;

  const free = new Map<Kind, number[]>(KINDS.map((kind) => [kind, []]));
  const instructions: number[] = [];
  ir.values.forEach((v, i) => {
    if (!live[i] || v.kind !== 'op') return;
    for (const a of new Set(v.args)) {
      if (lastUse[a] === i && register[a] >= firstTemp) free.get(kinds[register[a]])!.push(register[a]);
    }
    if (i === direct) register[i] = outputRegister(0);
    else register[i] = free.get(v.type)!.pop() ?? kinds.push(v.type) - 1;
    const operands = v.args.map((a) => register[a]);
    instructions.push(v.op, register[i], operands[0], operands[1] ?? 0, operands[2] ?? 0);
  });

  const nTemps = kinds.length - firstTemp;
  const code = new Int32Array(HEADER + kinds.length + 2 * nOutputs + instructions.length);
  code.set([nInputs, constantValues.length, nOutputs, nTemps, instructions.length / INSTRUCTION]);
  code.set(
    kinds.map((kind) => KINDS.indexOf(kind)),
    HEADER,
  );
  const outputsAt = HEADER + kinds.length;
  ir.outputs.forEach((out, k) => {
    code[outputsAt + 2 * k] = out.reduction ? KIND[out.reduction] : OutputKind.Elementwise;
    code[outputsAt + 2 * k + 1] = register[out.value];
  });
  code.set(instructions, outputsAt + 2 * nOutputs);
  const constants = new Float64Array(constantValues.length);
  const raw = new BigInt64Array(constants.buffer);
  constantValues.forEach((value, k) => {
    if (typeof value === 'bigint') raw[k] = value;
    else constants[k] = value;
  });
  return { code, constants };
}

/** Human-readable listing (Program.toString()): registers named in0, k1, out0, t2. */
export function disassemble({ code, constants }: Bytecode): string {
  const [nInputs, nConstants, nOutputs, nTemps] = code;
  const registers = nInputs + nConstants + nOutputs + nTemps;
  const kindOf = (r: number) => KINDS[code[HEADER + r]];
  const raw = new BigInt64Array(constants.buffer);
  const name = (r: number): string => {
    if (r < nInputs) return `in${r}`;
    if (r < nInputs + nConstants) {
      const k = r - nInputs;
      return `k${k}(${kindOf(r) === 'int64' ? raw[k] : constants[k]})`;
    }
    if (r < nInputs + nConstants + nOutputs) return `out${r - nInputs - nConstants}`;
    return `t${r - nInputs - nConstants - nOutputs}`;
  };
  const lines: string[] = [];
  const outputsAt = HEADER + registers;
  for (let p = outputsAt + 2 * nOutputs; p < code.length; p += INSTRUCTION) {
    const op = OPS[code[p]];
    const args = Array.from(code.subarray(p + 2, p + 2 + op.arity), name);
    lines.push(`${name(code[p + 1]).padEnd(6)} = ${op.name}:${kindOf(code[p + 1])} ${args.join(', ')}`);
  }
  for (let k = 0; k < nOutputs; k++) {
    const kind = code[outputsAt + 2 * k];
    const source = name(code[outputsAt + 2 * k + 1]);
    lines.push(
      kind === OutputKind.Elementwise
        ? `out${k} <- ${source}`
        : `out${k} <- ${['', 'sum', 'prod', 'min', 'max'][kind]}(${source})`,
    );
  }
  return lines.join('\n');
}
