export {
  CONSTANTS,
  ExpressionError,
  FUNCTIONS,
  REDUCTIONS,
  type BinaryOperator,
  type FunctionName,
  type Node as ExpressionNode,
  type Reduction,
  type UnaryOperator,
} from '../lang/ast.js';
export { parse as parseExpression } from '../lang/parser.js';
export type { ElementArray } from '../lang/types.js';
export {
  NATIVE_MIN_LENGTH,
  Program,
  compile,
  evaluate,
  evaluateAsync,
  evaluateMany,
  reEvaluate,
  type EvaluateManyOptions,
  type EvaluateOptions,
  type EvaluateResult,
  type ResultArray,
  type VariableValue,
  type Variables,
} from './program.js';
export type { NdArray, NdResult } from '../lang/ndarray.js';
export {
  vectorize,
  type OpenclVectorizeArgument,
  type OpenclVectorizedFunction,
  type VectorizeArgument,
  type VectorizedFunction,
  type VectorizeOptions,
} from './vectorize.js';
