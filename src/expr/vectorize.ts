// vectorize(): numba.vectorize's role. Reads an arrow function's source and translates a restricted
// subset into the same syntax tree evaluate() runs, so the function runs over typed arrays as one
// fused loop (pure TS) or on the native block VM. The subset: parameters, number literals,
// + - * / % **, comparisons, && || !, the ternary, `const` locals, Math.* functions and constants.
// Everything else is an ExpressionError naming the construct and its column.
//
// Semantics follow the expression language: comparisons, && || ! give 1 or 0 (not the operand, as
// JS's && does) and a condition is true when it is != 0, so NaN counts as true. JS `%` keeps its
// meaning (the truncated remainder: the language's fmod).
import { type BinaryOperator, ExpressionError, type FunctionName, type Node } from '../lang/ast.js';
import { TokenStream, describeToken, numberNode, tokenize, type Token } from '../lang/parser.js';
import {
  CompiledExpressions,
  type EvaluateOptions,
  type EvaluateResult,
  Program,
  type VariableValue,
} from './program.js';
import { checkKnownOptions } from '../core/options.js';
import { checkOneOf, typeName } from '../core/validate.js';
import type { OpenclEvaluateOptions, OpenclEvaluateResult, OpenclVariable } from '../opencl/evaluate.js';

const WHERE = 'vectorize';

// Longest first. Tokens outside the subset are listed too, so they get a precise error, not "unexpected character".
const OPERATORS = [
  '>>>=',
  '...',
  '===',
  '!==',
  '**=',
  '>>>',
  '<<=',
  '>>=',
  '**',
  '<=',
  '>=',
  '==',
  '!=',
  '&&',
  '||',
  '??',
  '=>',
  '++',
  '--',
  '+=',
  '-=',
  '*=',
  '/=',
  '%=',
  '<<',
  '>>',
  '?.',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '!',
  '?',
  ':',
  '(',
  ')',
  ',',
  '{',
  '}',
  ';',
  '=',
  '.',
  '&',
  '|',
  '~',
  '^',
  '[',
  ']',
  '`',
  '"',
  "'",
];

const UNSUPPORTED_OPERATORS: Record<string, string> = {
  '&': 'bitwise operators are not supported',
  '|': 'bitwise operators are not supported',
  '^': 'bitwise operators are not supported',
  '~': 'bitwise operators are not supported',
  '<<': 'bitwise operators are not supported',
  '>>': 'bitwise operators are not supported',
  '>>>': 'bitwise operators are not supported',
  '++': 'increment and decrement are not supported',
  '--': 'increment and decrement are not supported',
  '=': 'assignment is not supported',
  '+=': 'assignment is not supported',
  '-=': 'assignment is not supported',
  '*=': 'assignment is not supported',
  '/=': 'assignment is not supported',
  '%=': 'assignment is not supported',
  '**=': 'assignment is not supported',
  '<<=': 'assignment is not supported',
  '>>=': 'assignment is not supported',
  '>>>=': 'assignment is not supported',
  '??': "the '??' operator is not supported",
  '?.': 'optional chaining is not supported',
  '[': 'arrays and indexing are not supported',
  '`': 'strings are not supported',
  '"': 'strings are not supported',
  "'": 'strings are not supported',
  '...': 'spread and rest parameters are not supported',
};

const STATEMENTS = new Set([
  'if',
  'else',
  'for',
  'while',
  'do',
  'switch',
  'try',
  'throw',
  'function',
  'class',
  'var',
  'let',
]);

/** Math.* functions and the expression-language function each becomes (pow, min and max are handled apart). */
const MATH_FUNCTIONS: Readonly<Record<string, FunctionName>> = {
  sin: 'sin',
  cos: 'cos',
  tan: 'tan',
  asin: 'arcsin',
  acos: 'arccos',
  atan: 'arctan',
  sinh: 'sinh',
  cosh: 'cosh',
  tanh: 'tanh',
  asinh: 'arcsinh',
  acosh: 'arccosh',
  atanh: 'arctanh',
  exp: 'exp',
  expm1: 'expm1',
  log: 'log',
  log1p: 'log1p',
  log10: 'log10',
  log2: 'log2',
  sqrt: 'sqrt',
  cbrt: 'cbrt',
  abs: 'abs',
  floor: 'floor',
  ceil: 'ceil',
  trunc: 'trunc',
  atan2: 'arctan2',
  hypot: 'hypot',
};
const MATH_CONSTANTS = ['PI', 'E', 'LN2', 'LN10', 'LOG2E', 'LOG10E', 'SQRT2', 'SQRT1_2'] as const;
const GLOBAL_NUMBERS: Readonly<Record<string, number>> = { Infinity, NaN, true: 1, false: 0 };

const EQUALITY: Record<string, BinaryOperator> = { '===': '==', '==': '==', '!==': '!=', '!=': '!=' };

/** Blanks out comments, keeping every other character (and so every column) in place. */
function blankComments(source: string): string {
  return source.replace(/\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, ' '));
}

class FunctionParser {
  readonly s: TokenStream;
  readonly params: string[] = [];
  readonly #locals = new Map<string, Node>();

  constructor(source: string) {
    this.s = new TokenStream(tokenize(blankComments(source), OPERATORS, WHERE), source, WHERE);
  }

  error(problem: string, token: Token): ExpressionError {
    return this.s.error(problem, token.column);
  }

  /** The next token, rejecting operators outside the subset with their own message. */
  peek(): Token {
    const token = this.s.peek();
    if (token.kind === 'operator' && UNSUPPORTED_OPERATORS[token.text])
      throw this.error(UNSUPPORTED_OPERATORS[token.text], token);
    return token;
  }

  parseFunction(): Node {
    const first = this.s.peek();
    if (
      first.kind === 'identifier' &&
      (first.text === 'function' || first.text === 'async' || first.text === 'class')
    ) {
      throw this.error(
        first.text === 'async'
          ? 'async functions are not supported'
          : 'only arrow functions are supported, e.g. (x, y) => x * y',
        first,
      );
    }
    if (first.kind === 'identifier' && this.s.peek(1).text === '=>') {
      this.params.push(this.s.next().text);
    } else if (this.s.accept('(')) {
      if (!this.s.accept(')')) {
        do this.params.push(this.#parameter());
        while (this.s.accept(','));
        this.s.expect(')');
      }
    } else {
      throw this.error('only arrow functions are supported, e.g. (x, y) => x * y', first);
    }
    if (this.params.length === 0) throw this.error('the function needs at least one parameter', first);
    this.s.expect('=>');
    const body = this.s.peek().text === '{' && this.s.peek().kind === 'operator' ? this.#block() : this.expression();
    const rest = this.s.peek();
    if (rest.kind !== 'end') throw this.error(`unexpected ${describeToken(rest)}`, rest);
    return body;
  }

  #parameter(): string {
    const token = this.peek();
    if (token.kind === 'operator' && (token.text === '{' || token.text === '['))
      throw this.error('destructuring parameters are not supported', token);
    if (token.kind !== 'identifier')
      throw this.error(`expected a parameter name but found ${describeToken(token)}`, token);
    this.s.next();
    if (this.s.peek().text === '=') throw this.error('default parameter values are not supported', this.s.peek());
    if (this.params.includes(token.text)) throw this.error(`duplicate parameter '${token.text}'`, token);
    return token.text;
  }

  #block(): Node {
    this.s.expect('{');
    for (;;) {
      const token = this.peek();
      if (token.kind === 'identifier' && token.text === 'const') {
        this.s.next();
        this.#constDeclaration();
      } else if (token.kind === 'identifier' && token.text === 'return') {
        this.s.next();
        const value = this.expression();
        this.s.accept(';');
        const after = this.s.peek();
        if (!this.s.accept('}')) throw this.error('statements after return are not supported', after);
        return value;
      } else if (token.kind === 'identifier' && STATEMENTS.has(token.text)) {
        const declaration = token.text === 'let' || token.text === 'var';
        const what = declaration ? 'declarations' : 'statements';
        throw this.error(`'${token.text}' ${what} are not supported${declaration ? '; use const' : ''}`, token);
      } else if (token.kind === 'operator' && token.text === '}') {
        throw this.error('the function body must end with a return statement', token);
      } else if (token.kind === 'operator' && token.text === ';') {
        this.s.next();
      } else {
        throw this.error('only const declarations and a final return are supported in the body', token);
      }
    }
  }

  #constDeclaration(): void {
    do {
      const name = this.s.next();
      if (name.kind !== 'identifier')
        throw this.error(`expected a name after const but found ${describeToken(name)}`, name);
      if (this.params.includes(name.text) || this.#locals.has(name.text))
        throw this.error(`'${name.text}' is already declared`, name);
      const equals = this.s.peek();
      if (!this.s.accept('=')) throw this.error(`expected '=' but found ${describeToken(equals)}`, equals);
      this.#locals.set(name.text, this.expression());
    } while (this.s.accept(','));
    this.s.accept(';');
  }

  expression(): Node {
    const condition = this.#binary(0);
    const question = this.peek();
    if (!this.s.accept('?')) return condition;
    const whenTrue = this.s.nested(question.column, () => this.expression());
    this.s.expect(':');
    const whenFalse = this.s.nested(question.column, () => this.expression());
    return { kind: 'call', fn: 'where', args: [condition, whenTrue, whenFalse], column: question.column };
  }

  // Binary levels, loosest first; each maps JS operators to the expression language's.
  static readonly LEVELS: readonly Readonly<Record<string, BinaryOperator>>[] = [
    { '||': '|' },
    { '&&': '&' },
    EQUALITY,
    { '<': '<', '<=': '<=', '>': '>', '>=': '>=' },
    { '+': '+', '-': '-' },
    { '*': '*', '/': '/', '%': '%' },
  ];

  #binary(level: number): Node {
    if (level === FunctionParser.LEVELS.length) return this.#unary();
    const ops = FunctionParser.LEVELS[level];
    let left = this.#binary(level + 1);
    for (;;) {
      const token = this.peek();
      if (token.kind !== 'operator' || !Object.prototype.hasOwnProperty.call(ops, token.text)) return left;
      this.s.next();
      const right = this.#binary(level + 1);
      // JS % is the truncated remainder: the language's fmod (its own % is numexpr's floored one).
      left =
        token.text === '%'
          ? { kind: 'call', fn: 'fmod', args: [left, right], column: token.column }
          : { kind: 'binary', op: ops[token.text], left, right, column: token.column };
    }
  }

  #unary(): Node {
    const token = this.peek();
    if (token.kind === 'operator' && (token.text === '-' || token.text === '+' || token.text === '!')) {
      this.s.next();
      const operand = this.s.nested(token.column, () => this.#unary());
      if (token.text === '+') return operand;
      return { kind: 'unary', op: token.text === '-' ? '-' : '~', operand, column: token.column };
    }
    if (
      token.kind === 'identifier' &&
      (token.text === 'typeof' || token.text === 'void' || token.text === 'delete' || token.text === 'await')
    ) {
      throw this.error(`the '${token.text}' operator is not supported`, token);
    }
    const base = this.#primary();
    const power = this.peek();
    if (!this.s.accept('**')) return base;
    const exponent = this.s.nested(power.column, () => this.#unary());
    return { kind: 'binary', op: '**', left: base, right: exponent, column: power.column };
  }

  #primary(): Node {
    const token = this.s.next();
    if (token.kind === 'number') return numberNode(token);
    if (token.kind === 'operator' && token.text === '(') {
      const inner = this.s.nested(token.column, () => this.expression());
      this.s.expect(')');
      return inner;
    }
    if (token.kind === 'operator' && UNSUPPORTED_OPERATORS[token.text])
      throw this.error(UNSUPPORTED_OPERATORS[token.text], token);
    if (token.kind !== 'identifier') throw this.error(`unexpected ${describeToken(token)}`, token);
    if (token.text === 'Math') return this.s.nested(token.column, () => this.#math(token));
    const next = this.s.peek();
    if (next.kind === 'operator' && next.text === '(')
      throw this.error(`calling '${token.text}' is not supported (only Math.* functions)`, token);
    if (next.kind === 'operator' && (next.text === '.' || next.text === '['))
      throw this.error(`property access on '${token.text}' is not supported`, next);
    if (this.params.includes(token.text)) return { kind: 'variable', name: token.text, column: token.column };
    const local = this.#locals.get(token.text);
    if (local) return local;
    if (Object.prototype.hasOwnProperty.call(GLOBAL_NUMBERS, token.text)) {
      const float = token.text !== 'true' && token.text !== 'false';
      return { kind: 'number', value: GLOBAL_NUMBERS[token.text], float, column: token.column };
    }
    if (token.text === 'this') throw this.error(`'this' is not supported`, token);
    throw this.error(`closures over outer variables are not supported ('${token.text}')`, token);
  }

  #math(math: Token): Node {
    const dot = this.s.peek();
    if (!this.s.accept('.')) throw this.error(`use Math.<name>; Math alone is not supported`, dot);
    const name = this.s.next();
    if (name.kind !== 'identifier') throw this.error(`expected a Math member but found ${describeToken(name)}`, name);
    if ((MATH_CONSTANTS as readonly string[]).includes(name.text)) {
      const value = Math[name.text as (typeof MATH_CONSTANTS)[number]];
      return { kind: 'number', value, float: true, column: math.column };
    }
    const isFunction =
      Object.prototype.hasOwnProperty.call(MATH_FUNCTIONS, name.text) || ['pow', 'min', 'max'].includes(name.text);
    if (!isFunction) throw this.error(`Math.${name.text} is not supported`, name);
    this.s.expect('(');
    const args: Node[] = [];
    if (!this.s.accept(')')) {
      do args.push(this.expression());
      while (this.s.accept(','));
      this.s.expect(')');
    }
    return this.#mathCall(name, args, math.column);
  }

  #mathCall(name: Token, args: Node[], column: number): Node {
    const need = (count: number) => {
      if (args.length !== count)
        throw this.error(
          `Math.${name.text} takes ${count} argument${count === 1 ? '' : 's'} here, got ${args.length}`,
          name,
        );
    };
    if (name.text === 'pow') {
      need(2);
      return { kind: 'binary', op: '**', left: args[0], right: args[1], column };
    }
    if (name.text === 'min' || name.text === 'max') {
      if (args.length === 0) throw this.error(`Math.${name.text} needs at least one argument`, name);
      const fn = name.text === 'min' ? 'minimum' : 'maximum';
      return args.reduce((left, right) => ({ kind: 'call', fn, args: [left, right], column }));
    }
    const fn = MATH_FUNCTIONS[name.text];
    need(fn === 'arctan2' || fn === 'hypot' ? 2 : 1);
    return { kind: 'call', fn, args, column };
  }
}

export type VectorizeArgument = VariableValue | EvaluateOptions;

/** A vectorized function: call it with one typed array or number per parameter, then optional EvaluateOptions. */
export interface VectorizedFunction {
  (...args: VectorizeArgument[]): EvaluateResult;
  /** The same, off the event loop (native backend). */
  async(...args: VectorizeArgument[]): Promise<EvaluateResult>;
  /** Parameter names, in order. */
  readonly params: readonly string[];
  /** The compiled program (toString() shows the tree, SSA and bytecode). */
  readonly program: Program;
}

function splitArguments(where: string, params: readonly string[], args: VectorizeArgument[]) {
  const last = args[args.length - 1];
  const hasOptions =
    args.length === params.length + 1 && last !== null && typeof last === 'object' && !ArrayBuffer.isView(last);
  const values = hasOptions ? args.slice(0, -1) : args;
  if (values.length !== params.length) {
    throw new TypeError(
      `${where}: expected ${params.length} argument${params.length === 1 ? '' : 's'} (${params.join(', ')}) ` +
        `and optional options, got ${args.length}`,
    );
  }
  const vars = Object.fromEntries(params.map((p, i) => [p, values[i]])) as Record<string, VariableValue>;
  return { vars, options: hasOptions ? (last as EvaluateOptions) : undefined };
}

/** A function vectorized for an OpenCL device: same arguments, opencl.evaluate's options and results. */
export interface OpenclVectorizedFunction {
  (...args: OpenclVectorizeArgument[]): Promise<OpenclEvaluateResult>;
  /** Parameter names, in order. */
  readonly params: readonly string[];
  /** The compiled program (program.run(...) runs the same function on the CPU). */
  readonly program: Program;
}

export type OpenclVectorizeArgument = OpenclVariable | OpenclEvaluateOptions;

export interface VectorizeOptions {
  /** 'cpu' (default): CPU threads or the pure-TS loop. 'opencl': an OpenCL device (the call returns a promise). */
  target?: 'cpu' | 'opencl';
}

/**
 * Compiles an arrow function over numbers into a function over typed arrays and scalars, like
 * numba.vectorize: `vectorize((x, y) => Math.sqrt(x*x + y*y))(xs, ys)`. With { target: 'opencl' }
 * it runs on an OpenCL device (float32 by default on devices without fp64). Throws ExpressionError
 * (construct and column) for anything outside the supported subset.
 */
export function vectorize(fn: (...args: number[]) => number, options?: { target?: 'cpu' }): VectorizedFunction;
export function vectorize(fn: (...args: number[]) => number, options: { target: 'opencl' }): OpenclVectorizedFunction;
export function vectorize(
  fn: (...args: number[]) => number,
  options?: VectorizeOptions,
): VectorizedFunction | OpenclVectorizedFunction {
  if (typeof fn !== 'function') throw new TypeError(`${WHERE}: expected a function, got ${typeName(fn)}`);
  const opts = checkKnownOptions(WHERE, options, ['target']);
  const target = opts.target === undefined ? 'cpu' : checkOneOf(WHERE, 'target', opts.target, ['cpu', 'opencl']);
  const source = Function.prototype.toString.call(fn);
  const parser = new FunctionParser(source);
  const root = parser.parseFunction();
  const params = parser.params;
  const caller = 'vectorized function';
  const program = new Program(source, new CompiledExpressions([{ name: 'result', root, source }], WHERE), {
    sync: caller,
    async: caller,
  });
  if (target === 'opencl') {
    const onDevice = (...args: OpenclVectorizeArgument[]): Promise<OpenclEvaluateResult> => {
      const { vars, options: runOptions } = splitArguments(caller, params, args as VectorizeArgument[]);
      return program.runOpenCL(vars as Record<string, OpenclVariable>, runOptions as OpenclEvaluateOptions | undefined);
    };
    return Object.assign(onDevice, { params, program });
  }
  const call = (...args: VectorizeArgument[]): EvaluateResult => {
    const { vars, options: runOptions } = splitArguments(caller, params, args);
    return program.run(vars, runOptions);
  };
  return Object.assign(call, {
    async: async (...args: VectorizeArgument[]): Promise<EvaluateResult> => {
      const { vars, options: runOptions } = splitArguments(caller, params, args);
      return program.runAsync(vars, runOptions);
    },
    params,
    program,
  });
}
