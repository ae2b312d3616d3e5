export { CountMinSketch, xxhash64, type CountMinOptions, type CounterType, type WeightedSketch } from './sketch.js';
export type { Key } from './hash.js';
