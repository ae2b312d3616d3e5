export { close, describe, evaluate, type ParallelEvaluateOptions, type ParallelOptions } from './parallel.js';
