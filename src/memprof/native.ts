// Binding glue for the addon's native memory accounting (native/common/memory.h). Without the
// addon nothing native is allocated, so both figures are zero.
import { backend, requireNative } from '../core/loader.js';

/** Bytes the addon holds right now (process-wide: every thread and worker). 0 without the addon. */
export function nativeMemory(): number {
  return backend === 'native' ? requireNative().nativeMemory() : 0;
}

/** The native high-water mark since the previous call (resets it to the live total). */
export function takeNativePeak(): number {
  return backend === 'native' ? requireNative().takeNativePeak() : 0;
}
