// hotpath's single public entry point (CJS here; dist/index.mjs re-exports it for ESM).
export { backend, nativeLoadError, nativePath, type Backend } from './core/loader.js';
export * from './moments/index.js';
export { getNumThreads, setNumThreads } from './core/threads.js';
export * from './expr/index.js';
export * from './pool/index.js';
export * from './async/index.js';
export * as parallel from './parallel/index.js';
export * from './countmin/index.js';
export * from './cache/index.js';
export * from './memprof/index.js';
export * from './distributed/index.js';
export * as opencl from './opencl/index.js';
