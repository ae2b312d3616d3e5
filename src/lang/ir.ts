// Lowers syntax trees to a shared SSA list (the program both backends run): constants fold,
// identical subexpressions are computed once (also across the outputs of evaluateMany and the
// `const` locals of vectorize), and integer powers become multiplications by binary
// exponentiation (b**10 is four multiplies, as numexpr does).
import { type BinaryOperator, type Node, type Reduction, isReduction } from './ast.js';
import { FOLD, OPCODE, OPS } from './ops.js';

export type IrValue =
  | { kind: 'input'; index: number }
  | { kind: 'const'; value: number }
  | { kind: 'op'; op: number; args: number[] };

export interface IrOutput {
  name: string;
  /** The reduction applied to `value` over all elements, or null for an elementwise result. */
  reduction: Reduction | null;
  /** Index into `values`. */
  value: number;
}

export interface Ir {
  /** Variable names, in order of first appearance; input k of the program is inputs[k]. */
  inputs: string[];
  /** Topologically ordered: every op's args precede it. */
  values: IrValue[];
  outputs: IrOutput[];
}

/** Largest |exponent| unrolled into multiplications; larger ones call pow. */
const MAX_UNROLLED_POWER = 64;

const BINARY_OPS: Record<Exclude<BinaryOperator, '**'>, string> = {
  '+': 'add', '-': 'sub', '*': 'mul', '/': 'div', '%': 'mod',
  '<': 'lt', '<=': 'le', '==': 'eq', '!=': 'ne', '>=': 'ge', '>': 'gt', '&': 'and', '|': 'or',
};

class Builder {
  readonly inputs: string[] = [];
  readonly values: IrValue[] = [];
  readonly #keys = new Map<string, number>();

  #intern(key: string, value: IrValue): number {
    let index = this.#keys.get(key);
    if (index === undefined) {
      index = this.values.push(value) - 1;
      this.#keys.set(key, index);
    }
    return index;
  }

  constant(value: number): number {
    return this.#intern(`c${Object.is(value, -0) ? '-0' : value}`, { kind: 'const', value });
  }

  input(name: string): number {
    let index = this.inputs.indexOf(name);
    if (index === -1) index = this.inputs.push(name) - 1;
    return this.#intern(`i${index}`, { kind: 'input', index });
  }

  op(name: string, args: number[]): number {
    const op = OPCODE.get(name)!;
    const values = args.map((a) => this.values[a]);
    if (values.every((v) => v.kind === 'const')) {
      return this.constant(FOLD[op](...values.map((v) => (v as { value: number }).value)));
    }
    return this.#intern(`${op}(${args.join(',')})`, { kind: 'op', op, args });
  }

  /** x**k for an integer k by repeated squaring. */
  integerPower(x: number, k: number): number {
    if (k === 0) return this.constant(1);
    if (k < 0) return this.op('div', [this.constant(1), this.integerPower(x, -k)]);
    let result = -1;
    let base = x;
    for (let rest = k; rest > 0; rest = Math.floor(rest / 2)) {
      if (rest % 2 === 1) result = result === -1 ? base : this.op('mul', [result, base]);
      if (rest > 1) base = this.op('mul', [base, base]);
    }
    return result;
  }

  lower(node: Node): number {
    switch (node.kind) {
      case 'number':
        return this.constant(node.value);
      case 'variable':
        return this.input(node.name);
      case 'unary':
        return this.op(node.op === '-' ? 'neg' : 'not', [this.lower(node.operand)]);
      case 'binary': {
        const left = this.lower(node.left);
        const right = this.lower(node.right);
        if (node.op !== '**') return this.op(BINARY_OPS[node.op], [left, right]);
        const exponent = this.values[right];
        if (
          exponent.kind === 'const' &&
          Number.isInteger(exponent.value) &&
          Math.abs(exponent.value) <= MAX_UNROLLED_POWER &&
          this.values[left].kind !== 'const'
        ) {
          return this.integerPower(left, exponent.value);
        }
        return this.op('pow', [left, right]);
      }
      case 'call':
        if (isReduction(node.fn)) throw new Error(`internal: reduction '${node.fn}' below the root`);
        return this.op(node.fn, node.args.map((a) => this.lower(a)));
    }
  }
}

/** Lowers named roots (one per output) into one program; an outermost reduction call becomes the output's reduction. */
export function lower(roots: readonly { name: string; root: Node }[]): Ir {
  const builder = new Builder();
  const outputs = roots.map(({ name, root }): IrOutput => {
    if (root.kind === 'call' && isReduction(root.fn)) {
      return { name, reduction: root.fn, value: builder.lower(root.args[0]) };
    }
    return { name, reduction: null, value: builder.lower(root) };
  });
  return { inputs: builder.inputs, values: builder.values, outputs };
}

/** Values the outputs actually read (folding leaves unused constants behind). */
export function liveValues(ir: Ir): boolean[] {
  const live = new Array<boolean>(ir.values.length).fill(false);
  for (const out of ir.outputs) live[out.value] = true;
  for (let i = ir.values.length - 1; i >= 0; i--) {
    const v = ir.values[i];
    if (live[i] && v.kind === 'op') for (const a of v.args) live[a] = true;
  }
  return live;
}

/** One line per SSA value, e.g. `%3 = mul %1, %2` (Program.toString()). */
export function formatIr(ir: Ir): string {
  const live = liveValues(ir);
  const lines = ir.values.flatMap((v, i) => {
    if (!live[i]) return [];
    if (v.kind === 'input') return `%${i} = input ${ir.inputs[v.index]}`;
    if (v.kind === 'const') return `%${i} = const ${v.value}`;
    return `%${i} = ${OPS[v.op].name} ${v.args.map((a) => `%${a}`).join(', ')}`;
  });
  for (const out of ir.outputs) lines.push(`${out.name} = ${out.reduction ? `${out.reduction} ` : ''}%${out.value}`);
  return lines.join('\n');
}
