export { CountMinSketch, xxhash64, type CountMinOptions, type CounterType, type WeightedSketch } from './sketch.js';
export type { Key } from './hash.js';
export { TopK, type TopKEntry, type TopKOptions, type WeightedTopK } from './topk.js';
export type { Separator, UpdateLinesOptions } from './lines.js';
