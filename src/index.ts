// hotpath's single public entry point (CJS here; dist/index.mjs re-exports it for ESM).
export { backend, nativeLoadError, nativePath, type Backend } from './binding/loader.js';
export * from './moments/index.js';
export * from './expr/index.js';
export * as opencl from './opencl/index.js';
