// Task module of the parallel kernels' shared pool (compiled to dist/parallel/tasks.js). Each task
// reads its slice of a SharedArrayBuffer in place and returns a small mergeable partial.
import type { Backend } from '../binding/loader.js';
import { Moments, type MomentsJSON, type NanPolicy } from '../moments/index.js';

export function momentsPartial(values: Float64Array | Float32Array, nan: NanPolicy, backend: Backend): MomentsJSON {
  return new Moments({ backend, nan }).pushArray(values).toJSON();
}
