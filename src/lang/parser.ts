// Tokenizer and recursive-descent parser for expression strings (numexpr's language). One parser
// serves both backends; errors carry the 1-based column and a caret line (ExpressionError).
//
// Precedence, loosest first: |, &, comparisons (< <= == != >= >, not chainable), << >>, + -, * / %,
// unary - + ~, ** (right-associative, so -a**2 is -(a**2) and a**-2 works). Unlike Python, & and |
// bind looser than comparisons, so `a > 0 & b < 1` means what it says.
import {
  type BinaryOperator,
  ExpressionError,
  FUNCTIONS,
  type Node,
  type NumberNode,
  isFunctionName,
  isReduction,
} from './ast.js';

export type TokenKind = 'number' | 'identifier' | 'operator' | 'end';
export interface Token {
  kind: TokenKind;
  text: string;
  column: number;
  value?: number;
}

const NUMBER = /(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y;
const IDENTIFIER = /[A-Za-z_$][A-Za-z0-9_$]*/y;
const SPACE = /\s+/y;
const IDENTIFIER_START = /[A-Za-z_$]/;

/**
 * Splits `source` into tokens. `operators` lists the punctuation the caller's language accepts,
 * longest first so `**` wins over `*`. Anything else is a syntax error at its column.
 */
export function tokenize(source: string, operators: readonly string[], where: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  const match = (re: RegExp): string | null => {
    re.lastIndex = pos;
    const m = re.exec(source);
    return m ? m[0] : null;
  };
  while (pos < source.length) {
    const space = match(SPACE);
    if (space) {
      pos += space.length;
      continue;
    }
    const column = pos + 1;
    const number = match(NUMBER);
    if (number) {
      if (IDENTIFIER_START.test(source[pos + number.length] ?? '')) {
        throw new ExpressionError(where, `malformed number '${number}${source[pos + number.length]}'`, source, column);
      }
      tokens.push({ kind: 'number', text: number, column, value: Number(number) });
      pos += number.length;
      continue;
    }
    const identifier = match(IDENTIFIER);
    if (identifier) {
      tokens.push({ kind: 'identifier', text: identifier, column });
      pos += identifier.length;
      continue;
    }
    const op = operators.find((o) => source.startsWith(o, pos));
    if (!op) throw new ExpressionError(where, `unexpected character '${source[pos]}'`, source, column);
    tokens.push({ kind: 'operator', text: op, column });
    pos += op.length;
  }
  tokens.push({ kind: 'end', text: 'end of input', column: source.length + 1 });
  return tokens;
}

/** A cursor over tokens with the error helpers both parsers use. */
export class TokenStream {
  #index = 0;
  constructor(
    readonly tokens: Token[],
    readonly source: string,
    readonly where: string,
  ) {}
  peek(offset = 0): Token {
    return this.tokens[Math.min(this.#index + offset, this.tokens.length - 1)];
  }
  next(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.#index++;
    return token;
  }
  /** Consumes the operator `text` if it is next. */
  accept(text: string): boolean {
    const token = this.peek();
    if (token.kind === 'operator' && token.text === text) {
      this.#index++;
      return true;
    }
    return false;
  }
  expect(text: string): Token {
    const token = this.peek();
    if (!this.accept(text)) throw this.error(`expected '${text}' but found ${describeToken(token)}`, token.column);
    return token;
  }
  error(problem: string, column: number): ExpressionError {
    return new ExpressionError(this.where, problem, this.source, column);
  }
  #depth = 0;
  /** Parses one nested level with `parseLevel`; past MAX_NESTING levels throws at `column`. */
  nested<T>(column: number, parseLevel: () => T): T {
    if (++this.#depth > MAX_NESTING) {
      throw this.error(`expression nested too deeply (more than ${MAX_NESTING} levels)`, column);
    }
    const result = parseLevel();
    this.#depth--;
    return result;
  }
}

/**
 * Deepest nesting of parentheses, calls, unary operators, `**` and ternaries a source may have.
 * The parsers recurse per level (about ten frames each), so an unbounded depth would end in a bare
 * "Maximum call stack size exceeded"; CPython's own parser stops at 200 nested parentheses.
 */
export const MAX_NESTING = 256;

/** The syntax-tree node for a number token; `2.0`, `1e3` and `.5` are float literals, `2` is not. */
export function numberNode(token: Token): NumberNode {
  return { kind: 'number', value: token.value!, float: /[.eE]/.test(token.text), column: token.column };
}

export function describeToken(token: Token): string {
  return token.kind === 'end' ? 'end of input' : `'${token.text}'`;
}

// '=' only appears in a reduction's `axis=N` (parseAxis); anywhere else it is an unexpected token.
const OPERATORS = [
  '**',
  '<<',
  '>>',
  '<=',
  '>=',
  '==',
  '!=',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '&',
  '|',
  '~',
  '(',
  ')',
  ',',
  '=',
];
const COMPARISONS = new Set(['<', '<=', '==', '!=', '>=', '>']);

/**
 * Parses an expression string into a tree. Reductions (sum prod min max mean) are accepted only
 * as the outermost call. Throws ExpressionError (with column and caret line) on any syntax error or
 * unknown function; variables are not checked here (they are bound at run time).
 */
export function parse(source: string, where = 'parse'): Node {
  if (typeof source !== 'string') throw new TypeError(`${where}: expression must be a string, got ${typeof source}`);
  const s = new TokenStream(tokenize(source, OPERATORS, where), source, where);
  if (s.peek().kind === 'end') throw s.error('empty expression', 1);
  const root = parseOutermost(s);
  const rest = s.peek();
  if (rest.kind !== 'end') throw s.error(`unexpected ${describeToken(rest)}`, rest.column);
  return root;
}

// A reduction may wrap the whole expression, optionally with numexpr's `axis=N` (N may be negative);
// anywhere else parseCall rejects it.
function parseOutermost(s: TokenStream): Node {
  const first = s.peek();
  if (first.kind === 'identifier' && isReduction(first.text) && s.peek(1).text === '(') {
    s.next();
    s.expect('(');
    const arg = parseOr(s);
    const axis = s.accept(',') ? parseAxis(s) : undefined;
    s.expect(')');
    if (s.peek().kind === 'end') {
      const call: Node = { kind: 'call', fn: first.text, args: [arg], column: first.column };
      return axis === undefined ? call : { ...call, axis };
    }
    throw s.error(`reduction '${first.text}' must be the outermost call`, first.column);
  }
  return parseOr(s);
}

function parseAxis(s: TokenStream): number {
  const name = s.next();
  if (name.kind !== 'identifier' || name.text !== 'axis') {
    throw s.error(`expected 'axis=' but found ${describeToken(name)}`, name.column);
  }
  s.expect('=');
  const negative = s.accept('-');
  const value = s.next();
  if (value.kind !== 'number' || !/^\d+$/.test(value.text)) {
    throw s.error(`axis must be an integer, found ${describeToken(value)}`, value.column);
  }
  return negative ? -value.value! : value.value!;
}

function binaryLevel(ops: readonly string[], inner: (s: TokenStream) => Node) {
  return (s: TokenStream): Node => {
    let left = inner(s);
    for (;;) {
      const token = s.peek();
      if (token.kind !== 'operator' || !ops.includes(token.text)) return left;
      s.next();
      const right = inner(s);
      left = { kind: 'binary', op: token.text as BinaryOperator, left, right, column: token.column };
    }
  };
}

function parseComparison(s: TokenStream): Node {
  const left = parseShift(s);
  const token = s.peek();
  if (token.kind !== 'operator' || !COMPARISONS.has(token.text)) return left;
  s.next();
  const right = parseShift(s);
  const after = s.peek();
  if (after.kind === 'operator' && COMPARISONS.has(after.text)) {
    throw s.error(`comparisons cannot be chained; use (a < b) & (b < c)`, after.column);
  }
  return { kind: 'binary', op: token.text as BinaryOperator, left, right, column: token.column };
}

function parseUnary(s: TokenStream): Node {
  const token = s.peek();
  if (token.kind === 'operator' && (token.text === '-' || token.text === '+' || token.text === '~')) {
    s.next();
    const operand = s.nested(token.column, () => parseUnary(s));
    if (token.text === '+') return operand;
    return { kind: 'unary', op: token.text, operand, column: token.column };
  }
  return parsePower(s);
}

function parsePower(s: TokenStream): Node {
  const base = parsePrimary(s);
  const token = s.peek();
  if (!s.accept('**')) return base;
  const exponent = s.nested(token.column, () => parseUnary(s));
  return { kind: 'binary', op: '**', left: base, right: exponent, column: token.column };
}

function parsePrimary(s: TokenStream): Node {
  const token = s.next();
  if (token.kind === 'number') return numberNode(token);
  if (token.kind === 'identifier') {
    if (s.peek().text === '(' && s.peek().kind === 'operator') return s.nested(token.column, () => parseCall(s, token));
    // pi and e stay variables here: lowering resolves them unless the caller's variables bind them.
    return { kind: 'variable', name: token.text, column: token.column };
  }
  if (token.kind === 'operator' && token.text === '(') {
    const inner = s.nested(token.column, () => parseOr(s));
    s.expect(')');
    return inner;
  }
  throw s.error(`unexpected ${describeToken(token)}`, token.column);
}

function parseCall(s: TokenStream, name: Token): Node {
  if (isReduction(name.text)) throw s.error(`reduction '${name.text}' must be the outermost call`, name.column);
  if (!isFunctionName(name.text)) throw s.error(`unknown function '${name.text}'`, name.column);
  s.expect('(');
  const args: Node[] = [];
  if (!s.accept(')')) {
    do args.push(parseOr(s));
    while (s.accept(','));
    s.expect(')');
  }
  const arity = FUNCTIONS[name.text];
  if (args.length !== arity) {
    throw s.error(`${name.text}() takes ${arity} argument${arity === 1 ? '' : 's'}, got ${args.length}`, name.column);
  }
  return { kind: 'call', fn: name.text, args, column: name.column };
}

const parseAdditive = binaryLevel(['+', '-'], binaryLevel(['*', '/', '%'], parseUnary));
const parseShift = binaryLevel(['<<', '>>'], parseAdditive);
const parseOr: (s: TokenStream) => Node = binaryLevel(['|'], binaryLevel(['&'], parseComparison));
