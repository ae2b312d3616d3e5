// Lowers syntax trees to a shared SSA list (the program both backends run): constants fold,
// identical subexpressions are computed once (also across the outputs of evaluateMany and the
// `const` locals of vectorize), and integer powers become multiplications by binary
// exponentiation (b**10 is four multiplies, as numexpr does). The walk over the tree uses an
// explicit stack: a flat 10,000-term sum is a tree 10,000 deep.
import {
  type BinaryOperator,
  CONSTANTS,
  type Node,
  type Reduction,
  childrenOf,
  forEachNode,
  isReduction,
} from './ast.js';
import { BOOLEAN_RESULT, FOLD, INTEGRAL_RESULT, OPCODE, OPS, TYPED_FOLD_ONLY } from './ops.js';

export type IrValue =
  | { kind: 'input'; index: number }
  /** `float`: a double constant in numexpr's sense (written 2.0, a named constant, or folded from one, like 1/2). */
  | { kind: 'const'; value: number; float: boolean; bool?: true }
  /** `site`: where in which root a shift was written (typed.ts refuses shifts of floats there). */
  | { kind: 'op'; op: number; args: number[]; site?: { root: number; column: number } };

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
  /**
   * numexpr's float32 rule: true when a float constant meets a non-constant operand (anywhere but
   * as the exponent of `**`), which makes float32 arrays compute in float64. See floatPromotion().
   */
  floatConstant: boolean;
}

/**
 * A program that is valid syntax but has no meaning for the caller's types (NumPy and numexpr refuse
 * `i ** -1` on integers). `root` is the index of the tree, `column` the position in its source;
 * callers turn it into an ExpressionError.
 */
export class LoweringError extends Error {
  constructor(
    readonly problem: string,
    readonly root: number,
    readonly column: number,
  ) {
    super(problem);
  }
}

/** Largest |exponent| unrolled into multiplications; larger ones call pow. */
const MAX_UNROLLED_POWER = 64;

const BINARY_OPS: Record<Exclude<BinaryOperator, '**'>, string> = {
  '+': 'add',
  '-': 'sub',
  '*': 'mul',
  '/': 'div',
  '%': 'mod',
  '<': 'lt',
  '<=': 'le',
  '==': 'eq',
  '!=': 'ne',
  '>=': 'ge',
  '>': 'gt',
  '&': 'and',
  '|': 'or',
  '<<': 'shl',
  '>>': 'shr',
};

class Builder {
  readonly inputs: string[] = [];
  readonly values: IrValue[] = [];
  readonly #keys = new Map<string, number>();
  /** Lowered value of each node already seen (vectorize's const locals share nodes). */
  readonly #lowered = new Map<Node, number>();
  /** Per value: integer or boolean in numexpr's kinds (decides what `%` means). */
  readonly #integer: boolean[] = [];

  /** Index of the tree being lowered (for LoweringError). */
  root = 0;

  constructor(readonly binding: Binding) {}

  #intern(key: string, value: IrValue, integer: boolean): number {
    let index = this.#keys.get(key);
    if (index === undefined) {
      index = this.values.push(value) - 1;
      this.#integer[index] = integer;
      this.#keys.set(key, index);
    }
    return index;
  }

  constant(value: number, float: boolean): number {
    const key = `c${float ? 'f' : ''}${Object.is(value, -0) ? '-0' : value}`;
    return this.#intern(key, { kind: 'const', value, float }, !float);
  }

  #boolConstant(value: number): number {
    return this.#intern(`b${value}`, { kind: 'const', value, float: false, bool: true }, true);
  }

  input(name: string): number {
    let index = this.inputs.indexOf(name);
    if (index === -1) index = this.inputs.push(name) - 1;
    return this.#intern(`i${index}`, { kind: 'input', index }, this.binding.integers.has(name));
  }

  op(name: string, args: number[]): number {
    // where's condition does not decide the kind of its result.
    const operands = name === 'where' ? args.slice(1) : args;
    const integer = BOOLEAN_RESULT.has(name) || (INTEGRAL_RESULT.has(name) && operands.every((a) => this.#integer[a]));
    if (name === 'mod' && args.every((a) => this.#integer[a])) name = 'imod';
    const op = OPCODE.get(name)!;
    const values = args.map((a) => this.values[a]);
    if (values.every((v) => v.kind === 'const') && !TYPED_FOLD_ONLY.has(name)) {
      const value = FOLD[op](...values.map((v) => (v as { value: number }).value));
      // A folded comparison is numexpr's bool constant (Python's True or False).
      return BOOLEAN_RESULT.has(name) ? this.#boolConstant(value) : this.constant(value, !integer);
    }
    return this.#intern(`${op}(${args.join(',')})`, { kind: 'op', op, args }, integer);
  }

  /** x**k for an integer k by repeated squaring. */
  integerPower(x: number, k: number): number {
    // x**0 is 1 in x's kind (NaN**0 too, as Math.pow and C pow).
    if (k === 0) return this.op('ones_like', [x]);
    if (k < 0) return this.op('div', [this.constant(1, false), this.integerPower(x, -k)]);
    let result = -1;
    let base = x;
    for (let rest = k; rest > 0; rest = Math.floor(rest / 2)) {
      if (rest % 2 === 1) result = result === -1 ? base : this.op('mul', [result, base]);
      if (rest > 1) base = this.op('mul', [base, base]);
    }
    return result;
  }

  /** Lowers a tree children first, with an explicit stack. */
  lower(root: Node): number {
    const stack: { node: Node; expanded: boolean }[] = [{ node: root, expanded: false }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (this.#lowered.has(top.node)) {
        stack.pop();
        continue;
      }
      const children = childrenOf(top.node);
      if (!top.expanded) {
        top.expanded = true;
        for (let k = children.length - 1; k >= 0; k--) stack.push({ node: children[k], expanded: false });
        continue;
      }
      stack.pop();
      this.#lowered.set(
        top.node,
        this.#lowerNode(
          top.node,
          children.map((child) => this.#lowered.get(child)!),
        ),
      );
    }
    return this.#lowered.get(root)!;
  }

  #lowerNode(node: Node, args: number[]): number {
    switch (node.kind) {
      case 'number':
        return this.constant(node.value, node.float);
      case 'variable':
        if (Object.prototype.hasOwnProperty.call(CONSTANTS, node.name) && !this.binding.shadowed.has(node.name)) {
          return this.constant(CONSTANTS[node.name], true);
        }
        return this.input(node.name);
      case 'unary':
        return this.op(node.op === '-' ? 'neg' : 'not', args);
      case 'binary': {
        const [left, right] = args;
        if (node.op === '<<' || node.op === '>>') {
          const shift = this.op(BINARY_OPS[node.op], args);
          const value = this.values[shift];
          if (value.kind === 'op') value.site ??= { root: this.root, column: node.column };
          return shift;
        }
        if (node.op !== '**') return this.op(BINARY_OPS[node.op], args);
        const exponent = this.values[right];
        // Integer arrays only: constants fold with Python's rules (2**-1 is 0.5 in numexpr too).
        const integerArray = this.#integer[left] && this.values[left].kind !== 'const';
        if (integerArray && exponent.kind === 'const' && !exponent.float && exponent.value < 0) {
          const problem = 'integers to negative integer powers are not allowed (as in NumPy)';
          throw new LoweringError(problem, this.root, node.column);
        }
        // An integer to a float exponent (2.0 included) is a float power, as numexpr's pow.
        if (
          exponent.kind === 'const' &&
          !(exponent.float && this.#integer[left]) &&
          Number.isInteger(exponent.value) &&
          Math.abs(exponent.value) <= MAX_UNROLLED_POWER &&
          this.values[left].kind !== 'const'
        ) {
          return this.integerPower(left, exponent.value);
        }
        return this.op('pow', args);
      }
      case 'call':
        if (isReduction(node.fn)) throw new Error(`internal: reduction '${node.fn}' below the root`);
        return this.op(node.fn, args);
    }
  }
}

/** What lowering needs to know about the caller's variables (programs are lowered once per Binding). */
export interface Binding {
  /** Names of CONSTANTS (pi, e) the caller binds as variables: those are inputs, the others constants. */
  shadowed: ReadonlySet<string>;
  /** Names bound to integer typed arrays or booleans: `%` between integers gives 0 for a zero divisor. */
  integers: ReadonlySet<string>;
}

const NO_BINDING: Binding = { shadowed: new Set(), integers: new Set() };

/** Lowers named roots (one per output) into one program; an outermost reduction call becomes the output's reduction. */
export function lower(roots: readonly { name: string; root: Node }[], binding: Binding = NO_BINDING): Ir {
  const builder = new Builder(binding);
  const outputs = roots.map(({ name, root }, index): IrOutput => {
    builder.root = index;
    if (root.kind === 'call' && isReduction(root.fn)) {
      return { name, reduction: root.fn, value: builder.lower(root.args[0]) };
    }
    return { name, reduction: null, value: builder.lower(root) };
  });
  const ir: Ir = { inputs: builder.inputs, values: builder.values, outputs, floatConstant: false };
  ir.floatConstant = hasFloatConstantOperand(ir);
  return ir;
}

const POW = OPCODE.get('pow')!;

function hasFloatConstantOperand(ir: Ir): boolean {
  const live = liveValues(ir);
  return ir.values.some(
    (v, i) =>
      live[i] &&
      v.kind === 'op' &&
      v.args.some((a, k) => {
        const arg = ir.values[a];
        return arg.kind === 'const' && arg.float && !(v.op === POW && k === 1);
      }),
  );
}

/** Every variable name the trees read, `pi` and `e` included. */
export function variableNames(roots: readonly { root: Node }[]): string[] {
  const names = new Set<string>();
  for (const { root } of roots) {
    forEachNode(root, (node) => {
      if (node.kind === 'variable') names.add(node.name);
    });
  }
  return [...names];
}

/**
 * The Binding of the caller's `vars` for a program reading `names`, and the key to cache the
 * program lowered for it under. `isInteger` tells integer inputs (typed arrays, booleans) apart.
 */
export function bindingFor(
  names: readonly string[],
  vars: Readonly<Record<string, unknown>>,
  isInteger: (value: unknown) => boolean,
): { key: string; binding: Binding } {
  const bound = names.filter((name) => Object.prototype.hasOwnProperty.call(vars, name));
  const shadowed = bound.filter((name) => Object.prototype.hasOwnProperty.call(CONSTANTS, name));
  const integers = bound.filter((name) => isInteger(vars[name]));
  return {
    key: `${shadowed.join()}|${integers.join()}`,
    binding: { shadowed: new Set(shadowed), integers: new Set(integers) },
  };
}

/**
 * The program's compute type under numexpr 2.8's rules, given the element type of each array
 * input ('float32', or anything else) and whether any scalar variable is bound: float32 when every
 * array is float32, no scalar variable is read (a number is a Python float or int there: float64
 * or int64, both promote float32) and no float constant meets an array (`a*2.0` and `a+pi` are
 * float64, `a*2` and `a**2.5` stay float32). Shared by evaluate, vectorize and opencl.evaluate.
 */
export function floatPromotion(
  ir: Ir,
  arrays: readonly ('float32' | 'other')[],
  anyScalar: boolean,
): 'float32' | 'float64' {
  const float32 = arrays.length > 0 && arrays.every((a) => a === 'float32') && !anyScalar && !ir.floatConstant;
  return float32 ? 'float32' : 'float64';
}

/** Values the outputs actually read (folding leaves unused constants behind). */
export function liveValues(ir: {
  values: readonly ({ kind: 'input' | 'const' } | { kind: 'op'; args: readonly number[] })[];
  outputs: readonly { value: number }[];
}): boolean[] {
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
