export { close, describe, type ParallelOptions } from './parallel.js';
