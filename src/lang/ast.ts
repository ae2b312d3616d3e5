// The expression language's syntax tree, shared by every backend (fused JS loop, native bytecode,
// and code generators such as OpenCL). Produced by parse() (expression strings) and by vectorize()
// (arrow functions); consumed by lower() in ir.ts.
//
// Node shape (every node carries `column`, 1-based, pointing into the source text):
//   { kind: 'number',   value, float }          a literal (float: written 2.0 or 1e3, or Math.PI in vectorize)
//   { kind: 'variable', name }                  an input: a typed array or a scalar at run time; the names
//                                               of CONSTANTS (pi, e) fall back to the constant at lowering
//                                               time when the caller's variables do not bind them
//   { kind: 'unary',    op: '-' | '~', operand }  arithmetic negation; logical not (1 when operand == 0, else 0)
//   { kind: 'binary',   op, left, right }       op is one of BinaryOperator
//   { kind: 'call',     fn, args, axis? }       fn is a key of FUNCTIONS (elementwise) or REDUCTIONS; axis
//                                               (`sum(x, axis=1)`, may be negative) only on an outermost reduction
// Semantics every backend follows: comparisons and & | ~ produce 1 or 0; a condition (where, &, |, ~)
// is true when it is != 0 (so NaN is true, as in NumPy); `%` is numexpr's floored remainder
// x - floor(x/y)*y (the sign of y; integer operands: by zero 0, as NumPy), `fmod` the truncated one
// (JS `%`, C fmod); reductions appear only as the outermost call.

export type BinaryOperator =
  '+' | '-' | '*' | '/' | '%' | '**' | '<' | '<=' | '==' | '!=' | '>=' | '>' | '&' | '|' | '<<' | '>>';
export type UnaryOperator = '-' | '~';

export interface NumberNode {
  kind: 'number';
  value: number;
  /**
   * Written as a float (`2.0`, `1e3`, `.5`, Math.PI): numexpr's double constants, which make a float32
   * computation float64 (an integer literal such as `2` does not). See floatPromotion() in ir.ts.
   */
  float: boolean;
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
  /** A reduction's `axis=N`: reduce along that dimension of the n-d result only (program.ts). */
  axis?: number;
  column: number;
}
export type Node = NumberNode | VariableNode | UnaryNode | BinaryNode | CallNode;

/** Elementwise functions and their arity. Names follow numexpr/NumPy (arcsin, not asin). */
export const FUNCTIONS = {
  sin: 1,
  cos: 1,
  tan: 1,
  arcsin: 1,
  arccos: 1,
  arctan: 1,
  sinh: 1,
  cosh: 1,
  tanh: 1,
  arcsinh: 1,
  arccosh: 1,
  arctanh: 1,
  exp: 1,
  expm1: 1,
  log: 1,
  log1p: 1,
  log10: 1,
  log2: 1,
  sqrt: 1,
  cbrt: 1,
  abs: 1,
  floor: 1,
  ceil: 1,
  trunc: 1,
  arctan2: 2,
  hypot: 2,
  minimum: 2,
  maximum: 2,
  where: 3,
  fmod: 2,
  copy: 1,
  ones_like: 1,
} as const;
export type FunctionName = keyof typeof FUNCTIONS;

/** Reductions: allowed only as the outermost call; the result is one number. */
export const REDUCTIONS = ['sum', 'prod', 'min', 'max', 'mean'] as const;
export type Reduction = (typeof REDUCTIONS)[number];

/**
 * Named constants of the expression language. They are not reserved: a variable of the same name
 * in the caller's variables wins (numexpr has no such names, so `e` is an ordinary variable there).
 */
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

/** A node's operands, left to right. */
export function childrenOf(node: Node): readonly Node[] {
  switch (node.kind) {
    case 'unary':
      return [node.operand];
    case 'binary':
      return [node.left, node.right];
    case 'call':
      return node.args;
    case 'number':
    case 'variable':
      return [];
  }
}

/**
 * Calls `visit` once on every node of a tree, parents before children, arguments left to right. An
 * explicit stack, not recursion: a flat 10,000-term sum is a tree 10,000 deep. A node shared by
 * several parents (vectorize's const locals) is visited once, so `const b = a + a, c = b + b, ...`
 * costs its length, not 2^length.
 */
export function forEachNode(root: Node, visit: (node: Node) => void): void {
  const stack: Node[] = [root];
  const seen = new Set<Node>();
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (seen.has(node)) continue;
    seen.add(node);
    visit(node);
    const children = childrenOf(node);
    for (let k = children.length - 1; k >= 0; k--) stack.push(children[k]);
  }
}

/** Prints a tree back as a fully parenthesized expression (used by Program.toString()); iterative like forEachNode. */
export function formatNode(root: Node): string {
  const text = new Map<Node, string>();
  const stack: { node: Node; expanded: boolean }[] = [{ node: root, expanded: false }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (text.has(top.node)) {
      stack.pop();
      continue;
    }
    const children = childrenOf(top.node);
    if (!top.expanded && children.length > 0) {
      top.expanded = true;
      for (let k = children.length - 1; k >= 0; k--) stack.push({ node: children[k], expanded: false });
      continue;
    }
    stack.pop();
    const args = children.map((child) => text.get(child)!);
    text.set(top.node, formatOne(top.node, args));
  }
  return text.get(root)!;
}

function formatOne(node: Node, args: readonly string[]): string {
  switch (node.kind) {
    case 'number':
      return Number.isFinite(node.value) || Number.isNaN(node.value)
        ? String(node.value)
        : node.value > 0
          ? 'inf'
          : '-inf';
    case 'variable':
      return node.name;
    case 'unary':
      return `${node.op}${args[0]}`;
    case 'binary':
      return `(${args[0]} ${node.op} ${args[1]})`;
    case 'call':
      return `${node.fn}(${args.join(', ')}${node.axis === undefined ? '' : `, axis=${node.axis}`})`;
  }
}
