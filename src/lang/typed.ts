// numexpr's type rules applied to a lowered program (ir.ts): every value gets a kind (types.ts), and
// explicit `cast` ops convert operands to the kind an op computes in, so a backend never guesses.
// Shared by the fused JS loop, the native VM and (later) OpenCL; nothing here knows about backends.
//
//   op                              | computes in (k = commonKind of operands)  | result
//   --------------------------------|-------------------------------------------|------------------------
//   + - * unary- minimum maximum %  | k, bool as int32 (numexpr refuses bool)   | k (integers wrap)
//   /                               | k, integers and bool as float64           | float64 or float32
//   **                              | constant exponent: the base's float kind;  | float; integer bases
//                                   | otherwise k, integers as float64          | unroll small powers (ir.ts)
//   < <= == != >= >                 | k                                          | bool
//   & | ~                           | bool: logical; integers: bitwise in k;     | bool or k
//                                   | floats: logical on x != 0                  |
//   << >>                           | k (integers only, ir.ts)                   | k
//   where(c, x, y)                  | c as bool (x != 0), x y in their k          | k
//   copy ones_like                  | its operand's kind (ones_like: bool int32) | the same
//   functions, abs floor ceil trunc | k, integers and bool as float64           | float
//   fmod                            |                                            |
// Constants: integer literals are int32 when they fit, else int64; float literals, pi and e float64.
// Reductions: sum of bool counts; prod/min/max of bool compute in int32; mean in float64; the others
// in their operand's kind (int32 sums wrap, as numexpr 2.8). Casts only widen, except a float
// constant exponent of a float32 base (numexpr keeps `a**2.5` in float32).
import { type Ir, type IrOutput, LoweringError, liveValues } from './ir.js';
import { JS_HELPERS, OPCODE, OPS } from './ops.js';
import { type Kind, commonKind, integerConstantKind, isFloatKind, isIntegerKind } from './types.js';

export type TypedValue =
  | { kind: 'input'; index: number; type: Kind }
  /** int64 constants are bigints, every other kind a number (bool: 0 or 1). */
  | { kind: 'const'; value: number | bigint; type: Kind }
  | { kind: 'op'; op: number; args: number[]; type: Kind };

export interface TypedIr {
  inputs: string[];
  /** Topologically ordered; every op's operands have the kind it computes in (see operandKind). */
  values: TypedValue[];
  outputs: IrOutput[];
}

const CAST = OPCODE.get('cast')!;
const WHERE = OPCODE.get('where')!;
const COMPARISONS = new Set(['lt', 'le', 'eq', 'ne', 'ge', 'gt']);
/** Ops whose integer or bool operands compute in float64 (numexpr's float-only functions). */
const FLOAT_ONLY = new Set([
  'div',
  'pow',
  'sin',
  'cos',
  'tan',
  'arcsin',
  'arccos',
  'arctan',
  'sinh',
  'cosh',
  'tanh',
  'arcsinh',
  'arccosh',
  'arctanh',
  'exp',
  'expm1',
  'log',
  'log1p',
  'log10',
  'log2',
  'sqrt',
  'cbrt',
  'abs',
  'floor',
  'ceil',
  'trunc',
  'arctan2',
  'hypot',
  'fmod',
]);

/** The kind an op's operands have (its result kind, except for comparisons, where and cast). */
export function operandKind(values: readonly TypedValue[], value: TypedValue & { kind: 'op' }): Kind {
  return values[value.args[value.op === WHERE ? 1 : 0]].type;
}

/**
 * The JS expression of one typed op over operand expressions (the fused loop and folding use it).
 * float32 results are rounded with `f` (Math.fround) after every op.
 */
export function typedJs(values: readonly TypedValue[], value: TypedValue & { kind: 'op' }, args: string[]): string {
  const info = OPS[value.op];
  if (value.op === CAST) return castJs(values[value.args[0]].type, value.type, args[0]);
  const operands = operandKind(values, value);
  const template =
    (operands === 'int32' || operands === 'int64' || operands === 'bool' ? info[operands] : null) ?? info.js;
  const expr = template(...args);
  return value.type === 'float32' ? `f(${expr})` : expr;
}

/** JS converting `x` from one kind to another (int64 values are bigints, bool values 0 or 1). */
export function castJs(from: Kind, to: Kind, x: string): string {
  if (to === 'bool') return from === 'int64' ? `(${x} !== 0n ? 1 : 0)` : `(${x} !== 0 ? 1 : 0)`;
  if (to === 'int64') return from === 'int64' ? x : `BigInt(${x})`;
  if (to === 'float32') return from === 'int64' ? `hp_i64f32(${x})` : `f(${x})`;
  if (to === 'float64') return from === 'int64' ? `Number(${x})` : x;
  return x; // int32 from bool
}

const folders = new Map<string, (...args: (number | bigint)[]) => number | bigint>();

/** Evaluates one op over constants with the same JS the fused loop runs. */
function fold(values: readonly TypedValue[], value: TypedValue & { kind: 'op' }): number | bigint {
  const key = `${value.op}:${value.type}:${value.args.map((a) => values[a].type).join()}`;
  let folder = folders.get(key);
  if (!folder) {
    const params = value.args.map((_, k) => `a${k}`);
    // Stand-in operands only carry the kinds typedJs reads.
    const stand = value.args.map((a) => values[a]);
    const expr = typedJs(stand, { ...value, args: stand.map((_, k) => k) }, params);
    const body = `${JS_HELPERS}\nconst f = Math.fround;\nreturn ${expr};`;
    folder = new Function(...params, body) as (...args: (number | bigint)[]) => number | bigint;
    folders.set(key, folder);
  }
  return folder(...value.args.map((a) => (values[a] as { value: number | bigint }).value));
}

class TypedBuilder {
  readonly values: TypedValue[] = [];
  readonly #keys = new Map<string, number>();

  #intern(key: string, value: TypedValue): number {
    let index = this.#keys.get(key);
    if (index === undefined) {
      index = this.values.push(value) - 1;
      this.#keys.set(key, index);
    }
    return index;
  }

  type(index: number): Kind {
    return this.values[index].type;
  }

  input(index: number, type: Kind): number {
    return this.#intern(`i${index}`, { kind: 'input', index, type });
  }

  constant(value: number | bigint, type: Kind): number {
    const v = type === 'int64' ? BigInt(value) : type === 'float32' ? Math.fround(Number(value)) : Number(value);
    const text = typeof v === 'number' && Object.is(v, -0) ? '-0' : String(v);
    return this.#intern(`c${type}:${text}`, { kind: 'const', value: v, type });
  }

  cast(index: number, to: Kind): number {
    return this.type(index) === to ? index : this.op('cast', [index], to);
  }

  op(name: string, args: number[], type: Kind): number {
    const value: TypedValue = { kind: 'op', op: OPCODE.get(name)!, args, type };
    if (args.every((a) => this.values[a].kind === 'const')) return this.constant(fold(this.values, value), type);
    return this.#intern(`${value.op}:${type}(${args.join(',')})`, value);
  }

  /** `name` over `args` converted to `kind`, giving `result` (default: kind). */
  uniform(name: string, args: number[], kind: Kind, result: Kind = kind): number {
    return this.op(
      name,
      args.map((a) => this.cast(a, kind)),
      result,
    );
  }

  /** Types one op of the untyped program (args already typed). */
  typed(name: string, args: number[], exponentIsConstant: boolean): number {
    const kinds = args.map((a) => this.type(a));
    const k = commonKind(kinds);
    const arithmetic = k === 'bool' ? 'int32' : k;
    if (name === 'copy') return this.op(name, args, kinds[0]);
    if (COMPARISONS.has(name)) return this.uniform(name, args, k, 'bool');
    if (name === 'and' || name === 'or' || name === 'not') {
      if (kinds.some(isFloatKind)) return this.uniform(name, args, 'bool');
      return this.uniform(name, args, k);
    }
    if (name === 'where') {
      const [condition, ...branches] = args;
      const kind = commonKind(kinds.slice(1));
      return this.op('where', [this.cast(condition, 'bool'), ...branches.map((b) => this.cast(b, kind))], kind);
    }
    if (name === 'pow' && exponentIsConstant && isFloatKind(kinds[0])) {
      return this.uniform(name, args, kinds[0]);
    }
    if (FLOAT_ONLY.has(name)) return this.uniform(name, args, isFloatKind(k) ? k : 'float64');
    if (name === 'mod' || name === 'imod')
      return this.uniform(isIntegerKind(arithmetic) ? 'imod' : 'mod', args, arithmetic);
    return this.uniform(name, args, arithmetic);
  }
}

/**
 * `ir` typed for inputs of `inputKinds` (ir.inputs order); a LoweringError for a shift of floats.
 * `float64Outputs[k]` marks outputs the
 * caller reduces itself in float64 (axis reductions): integer and bool results are widened.
 */
export function typeProgram(ir: Ir, inputKinds: readonly Kind[], float64Outputs: readonly boolean[] = []): TypedIr {
  const b = new TypedBuilder();
  const live = liveValues(ir);
  const typed: number[] = [];
  ir.values.forEach((v, i) => {
    if (!live[i]) return;
    if (v.kind === 'input') typed[i] = b.input(v.index, inputKinds[v.index]);
    else if (v.kind === 'const') {
      typed[i] = b.constant(v.value, v.bool ? 'bool' : v.float ? 'float64' : integerConstantKind(v.value));
    } else {
      const exponent = ir.values[v.args[1]];
      const args = v.args.map((a) => typed[a]);
      if (v.site && args.some((a) => isFloatKind(b.type(a)))) {
        throw new LoweringError('shifts take integer operands (as in numexpr and NumPy)', v.site.root, v.site.column);
      }
      typed[i] = b.typed(OPS[v.op].name, args, exponent?.kind === 'const');
    }
  });
  const outputs = ir.outputs.map((out, k): IrOutput => {
    let value = typed[out.value];
    const kind = b.type(value);
    if (out.reduction === 'mean' || (float64Outputs[k] && !isFloatKind(kind))) value = b.cast(value, 'float64');
    else if (out.reduction && out.reduction !== 'sum' && kind === 'bool') value = b.cast(value, 'int32');
    return { ...out, value };
  });
  return { inputs: ir.inputs, values: b.values, outputs };
}

/**
 * A TypeError when output `k`, reduced along an axis by `what`, is an int64 value: axis reductions accumulate in
 * float64 (typeProgram's float64Outputs), which would round int64 values past 2**53 without a word.
 */
export function checkAxisOperand(where: string, ir: TypedIr, k: number, what: string): void {
  const value = ir.values[ir.outputs[k].value];
  if (value.kind === 'op' && OPS[value.op].name === 'cast' && ir.values[value.args[0]].type === 'int64') {
    throw new TypeError(
      `${where}: the operand of ${what} must be a float, int32 or bool value (axis= reductions compute in float64), ` +
        'got int64',
    );
  }
}

/** The kind of each output's values (an elementwise result's array type, a reduction's operand kind). */
export function outputKinds(ir: TypedIr): Kind[] {
  return ir.outputs.map((out) => ir.values[out.value].type);
}

/** One line per SSA value with its kind, e.g. `%3 = mul:int32 %1, %2` (Program.toString()). */
export function formatTypedIr(ir: TypedIr): string {
  const lines = ir.values.map((v, i) => {
    if (v.kind === 'input') return `%${i} = input:${v.type} ${ir.inputs[v.index]}`;
    if (v.kind === 'const') return `%${i} = const:${v.type} ${v.value}`;
    return `%${i} = ${OPS[v.op].name}:${v.type} ${v.args.map((a) => `%${a}`).join(', ')}`;
  });
  for (const out of ir.outputs) lines.push(`${out.name} = ${out.reduction ? `${out.reduction} ` : ''}%${out.value}`);
  return lines.join('\n');
}
