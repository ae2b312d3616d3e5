// The expression language's syntax tree, shared by every backend (fused JS loop, native bytecode,
// and code generators such as OpenCL). Produced by parse() (expression strings) and by vectorize()
// (arrow functions); consumed by lower() in ir.ts.
//
// Node shape (every node carries `column`, 1-based, pointing into the source text):
//   { kind: 'number',   value }                 a literal, or a named constant (pi, e, Math.PI) already resolved
//   { kind: 'variable', name }                  an input: a typed array or a scalar at run time
//   { kind: 'unary',    op: '-' | '~', operand }  arithmetic negation; logical not (1 when operand == 0, else 0)
//   { kind: 'binary',   op, left, right }       op is one of BinaryOperator
//   { kind: 'call',     fn, args }              fn is a key of FUNCTIONS (elementwise) or REDUCTIONS
// Semantics every backend follows: comparisons and & | ~ produce 1 or 0; a condition (where, &, |, ~)
// is true when it is != 0 (so NaN is true, as in NumPy); `%` is the truncated remainder (JS `%`,
// C fmod); reductions appear only as the outermost call.

export type BinaryOperator = '+' | '-' | '*' | '/' | '%' | '**' | '<' | '<=' | '==' | '!=' | '>=' | '>' | '&' | '|';
export type UnaryOperator = '-' | '~';

export interface NumberNode {
  kind: 'number';
  value: number;
  column: number;
}
export interface VariableNode {
  kind: 'variable';
  name: string;
  column: number;
}
export interface UnaryNode {
  kind: 'unary';
  op: UnaryOperator;
  operand: Node;
  column: number;
}
export interface BinaryNode {
  kind: 'binary';
  op: BinaryOperator;
  left: Node;
  right: Node;
  column: number;
}
export interface CallNode {
  kind: 'call';
  fn: FunctionName | Reduction;
  args: Node[];
  column: number;
}
export type Node = NumberNode | VariableNode | UnaryNode | BinaryNode | CallNode;

/** Elementwise functions and their arity. Names follow numexpr/NumPy (arcsin, not asin). */
export const FUNCTIONS = {
  sin: 1, cos: 1, tan: 1, arcsin: 1, arccos: 1, arctan: 1, sinh: 1, cosh: 1, tanh: 1,
  arcsinh: 1, arccosh: 1, arctanh: 1, exp: 1, expm1: 1, log: 1, log1p: 1, log10: 1, log2: 1,
  sqrt: 1, cbrt: 1, abs: 1, floor: 1, ceil: 1, trunc: 1,
  arctan2: 2, hypot: 2, minimum: 2, maximum: 2, where: 3,
} as const;
export type FunctionName = keyof typeof FUNCTIONS;

/** Reductions: allowed only as the outermost call; the result is one number. */
export const REDUCTIONS = ['sum', 'prod', 'min', 'max', 'mean'] as const;
export type Reduction = (typeof REDUCTIONS)[number];

/** Named constants of the expression language. */
export const CONSTANTS: Readonly<Record<string, number>> = { pi: Math.PI, e: Math.E };

export function isFunctionName(name: string): name is FunctionName {
  return Object.prototype.hasOwnProperty.call(FUNCTIONS, name);
}
export function isReduction(name: string): name is Reduction {
  return (REDUCTIONS as readonly string[]).includes(name);
}

/**
 * A compile error in an expression or a vectorized function: the message ends with the column
 * and a caret line under the source, e.g.
 *   evaluate: unknown function 'sine' (column 5)
 *     2 * sine(a)
 *         ^
 */
export class ExpressionError extends Error {
  readonly column: number;
  readonly source: string;
  constructor(where: string, problem: string, source: string, column: number) {
    super(`${where}: ${problem} (column ${column})\n${caretLine(source, column)}`);
    this.name = 'ExpressionError';
    this.column = column;
    this.source = source;
  }
}

/** The source line holding `column` (1-based, counted over the whole text) and a caret under it. */
function caretLine(source: string, column: number): string {
  const lineStart = source.lastIndexOf('\n', column - 2) + 1;
  const lineEnd = source.indexOf('\n', lineStart);
  const line = source.slice(lineStart, lineEnd === -1 ? undefined : lineEnd);
  return `  ${line}\n  ${' '.repeat(Math.max(0, column - 1 - lineStart))}^`;
}

/** Names of the variables a tree reads, in order of first appearance. */
export function variablesOf(roots: readonly Node[]): string[] {
  const seen = new Set<string>();
  const visit = (node: Node): void => {
    switch (node.kind) {
      case 'variable':
        seen.add(node.name);
        break;
      case 'unary':
        visit(node.operand);
        break;
      case 'binary':
        visit(node.left);
        visit(node.right);
        break;
      case 'call':
        node.args.forEach(visit);
        break;
      case 'number':
        break;
    }
  };
  roots.forEach(visit);
  return [...seen];
}

/** Prints a tree back as a fully parenthesized expression (used by Program.toString()). */
export function formatNode(node: Node): string {
  switch (node.kind) {
    case 'number':
      return Number.isFinite(node.value) || Number.isNaN(node.value) ? String(node.value) : node.value > 0 ? 'inf' : '-inf';
    case 'variable':
      return node.name;
    case 'unary':
      return `${node.op}${formatNode(node.operand)}`;
    case 'binary':
      return `(${formatNode(node.left)} ${node.op} ${formatNode(node.right)})`;
    case 'call':
      return `${node.fn}(${node.args.map(formatNode).join(', ')})`;
  }
}
