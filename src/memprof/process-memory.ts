// Where the figures come from: process.memoryUsage() for the V8 heap and RSS, the addon's counter
// for native memory, Linux's RSS high-water mark for what happens between two samples, and the
// collector itself (exposed at run time when Node was not started with --expose-gc).
import fs from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import { nativeMemory } from './native.js';

/** One reading of the process's memory, in bytes. */
export interface MemoryFigures {
  /** Resident set size of the whole process. */
  rss: number;
  /** V8 heap in use by JavaScript objects. */
  heapUsed: number;
  /** V8 heap reserved. */
  heapTotal: number;
  /** Memory outside the V8 heap that V8 knows of (ArrayBuffers, addon allocations reported to it). */
  external: number;
  /** ArrayBuffer and SharedArrayBuffer backing stores (included in external). */
  arrayBuffers: number;
  /** Bytes the hotpath addon holds (nativeMemory()); 0 without the addon. */
  native: number;
}

export const FIGURE_KEYS = ['rss', 'heapUsed', 'heapTotal', 'external', 'arrayBuffers', 'native'] as const;

export function readFigures(): MemoryFigures {
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, heapTotal, external, arrayBuffers, native: nativeMemory() };
}

export function mapFigures(f: (key: keyof MemoryFigures) => number): MemoryFigures {
  return Object.fromEntries(FIGURE_KEYS.map((key) => [key, f(key)])) as unknown as MemoryFigures;
}

const STATUS = '/proc/self/status';

/**
 * Restarts the kernel's RSS high-water mark (VmHWM) at the current RSS. Returns false where that
 * is not possible (not Linux, /proc not writable); peaks then come from the samples alone.
 */
export function resetRssHighWater(): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** The kernel's RSS high-water mark in bytes (Linux), or 0 where it can't be read. */
export function rssHighWater(): number {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(STATUS, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

let collector: (() => void) | undefined;

/** global.gc when Node runs with --expose-gc, else the same function exposed at run time. */
function gcFunction(): () => void {
  if (collector) return collector;
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') {
    collector = exposed;
  } else {
    // The flag only affects contexts created afterwards, so fetch gc from a fresh one.
    v8.setFlagsFromString('--expose-gc');
    collector = vm.runInNewContext('gc') as () => void;
  }
  return collector;
}

/**
 * Two full collections with a turn of the event loop after each: finalizers of collected objects
 * (which free addon buffers) run from there, and V8 settles its ArrayBuffer and external-memory
 * accounting only on a later collection (one round left freed buffers counted in tests).
 */
export async function collectGarbage(): Promise<void> {
  const gc = gcFunction();
  for (let round = 0; round < 2; round++) {
    gc();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
