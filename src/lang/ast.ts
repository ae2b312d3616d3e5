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
 * A compile error in an expression or a vectorized function: the message ends with the position
 * and a caret line under the source, e.g.
 *   evaluate: unknown function 'sine' (column 5)
 *     2 * sine(a)
 *         ^
 * Multi-line sources (vectorized function bodies) report "(line 2, column 9)".
 */
export class ExpressionError extends Error {
  /** 1-based line of the problem within `source`. */
  readonly line: number;
  /** 1-based column of the problem within its line. */
  readonly column: number;
  readonly source: string;
  /** `offset` is the 1-based position in `source` (what tree nodes carry as `column`). */
  constructor(where: string, problem: string, source: string, offset: number) {
    const lineStart = source.lastIndexOf('\n', offset - 2) + 1;
    const lineEnd = source.indexOf('\n', lineStart);
    const line = source.slice(0, lineStart).split('\n').length;
    const column = offset - lineStart;
    const position = source.includes('\n') ? `line ${line}, column ${column}` : `column ${column}`;
    const text = source.slice(lineStart, lineEnd === -1 ? undefined : lineEnd);
    // Tabs stay tabs so the caret lines up under indented source lines.
    const indent = text.slice(0, column - 1).replace(/[^\t]/g, ' ');
    super(`${where}: ${problem} (${position})\n  ${text}\n  ${indent}^`);
    this.name = 'ExpressionError';
    this.line = line;
    this.column = column;
    this.source = source;
  }
}

/** Calls `visit` on every node of a tree, parents before children, arguments left to right. */
export function forEachNode(root: Node, visit: (node: Node) => void): void {
  visit(root);
  switch (root.kind) {
    case 'unary':
      forEachNode(root.operand, visit);
      break;
    case 'binary':
      forEachNode(root.left, visit);
      forEachNode(root.right, visit);
      break;
    case 'call':
      for (const arg of root.args) forEachNode(arg, visit);
      break;
    case 'number':
    case 'variable':
      break;
  }
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
