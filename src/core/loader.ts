// Chooses the backend once at load time, the way ws picks bufferutil: the native addon when it
// loads, else the pure-TS kernels. HOTPATH_BACKEND=js forces the fallback; HOTPATH_BACKEND=native
// turns a failed load into an error. HOTPATH_NATIVE_PATH points at one specific .node file (CI uses
// it to run the suite against the node-gyp, prebuildify and cmake-js binaries in turn).
import path from 'node:path';
import type { NativeAddon } from './addon.js';

export type Backend = 'native' | 'js';

/** Package root: this file lives in src/core (sources) or dist/core (build). */
export const packageRoot = path.resolve(__dirname, '..', '..');

interface LoadResult {
  addon: NativeAddon | null;
  error: Error | null;
  path: string | null;
}

function loadAddon(): LoadResult {
  const forced = process.env.HOTPATH_BACKEND;
  if (forced !== undefined && forced !== '' && forced !== 'js' && forced !== 'native') {
    throw new RangeError(`HOTPATH_BACKEND must be 'js' or 'native', got '${forced}'`);
  }
  if (forced === 'js') {
    return { addon: null, error: new Error('pure-TS backend forced by HOTPATH_BACKEND=js'), path: null };
  }
  try {
    const explicit = process.env.HOTPATH_NATIVE_PATH;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as { (dir: string): NativeAddon; path(dir: string): string };
    const file = explicit ? path.resolve(explicit) : nodeGypBuild.path(packageRoot);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const addon = require(file) as NativeAddon;
    return { addon, error: null, path: file };
  } catch (cause) {
    const error = cause instanceof Error ? cause : new Error(String(cause));
    if (forced === 'native') {
      throw new Error(`HOTPATH_BACKEND=native but the native addon failed to load: ${error.message}`, { cause });
    }
    return { addon: null, error, path: null };
  }
}

const loaded = loadAddon();

/** The backend used when a call does not choose one. */
export const backend: Backend = loaded.addon ? 'native' : 'js';
/** Why the native addon is not in use (null when it is). */
export const nativeLoadError: Error | null = loaded.error;
/** File the native addon was loaded from (null when not loaded). */
export const nativePath: string | null = loaded.path;

/** The loaded addon, or an error explaining why a caller's explicit `backend: 'native'` can't be met. */
export function requireNative(): NativeAddon {
  if (!loaded.addon) {
    throw new Error(`hotpath: native backend requested but unavailable: ${loaded.error?.message ?? 'unknown reason'}`);
  }
  return loaded.addon;
}

/** Resolves a per-call/per-object backend option against the process default. */
export function resolveBackend(requested: unknown, where: string): Backend {
  if (requested === undefined) return backend;
  if (requested !== 'native' && requested !== 'js') {
    throw new TypeError(`${where}: backend must be 'native' or 'js', got ${describeValue(requested)}`);
  }
  if (requested === 'native') requireNative();
  return requested;
}

function describeValue(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}
