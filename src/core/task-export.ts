// Finds the function a gateway or cluster worker runs: a module named by a path (absolute, or
// relative to the base directory) or a package name, and one of its exports. Code never travels:
// only these names do. A .ts path maps to its compiled .js as for the Pool. Loaded by the remote
// side too: no third-party imports.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolveTaskModule } from './module-path.js';

export type TaskFunction = (...args: unknown[]) => unknown;

const loaded = new Map<string, Promise<Record<string, unknown>>>();

/**
 * A file: URL for `specifier`: paths resolve against `baseDir` (a missing file is an error here),
 * package names from there, then from hotpath itself.
 */
export function resolveModule(specifier: string, baseDir: string): string {
  if (
    specifier.startsWith('file:') ||
    path.isAbsolute(specifier) ||
    specifier.startsWith('./') ||
    specifier.startsWith('../')
  ) {
    const file = specifier.startsWith('file:') ? specifier : path.resolve(baseDir, specifier);
    return pathToFileURL(resolveTaskModule('resolveModule', file, undefined)).href;
  }
  try {
    return pathToFileURL(createRequire(path.join(baseDir, 'index.js')).resolve(specifier)).href;
  } catch {
    // 'hotpath' itself (self-reference) and its dependencies resolve from here.
    return pathToFileURL(require.resolve(specifier)).href;
  }
}

/** The exported function `exportName` of `specifier`; modules are imported once per process. */
export async function loadExport(specifier: string, exportName: string, baseDir: string): Promise<TaskFunction> {
  let url: string;
  let namespace: Record<string, unknown>;
  try {
    url = resolveModule(specifier, baseDir);
    let pending = loaded.get(url);
    if (!pending) {
      pending = import(url) as Promise<Record<string, unknown>>;
      loaded.set(url, pending);
      pending.catch(() => loaded.delete(url));
    }
    namespace = await pending;
  } catch (error) {
    throw new Error(`cannot load module '${specifier}' (from ${baseDir}): ${(error as Error).message}`, {
      cause: error,
    });
  }
  // A CommonJS module's exports may only be reachable through `default`.
  const commonjs = namespace.default as Record<string, unknown> | undefined;
  const fn = namespace[exportName] ?? (commonjs && typeof commonjs === 'object' ? commonjs[exportName] : undefined);
  if (typeof fn !== 'function') {
    const names = Object.keys(namespace).filter((n) => typeof namespace[n] === 'function');
    throw new TypeError(
      `module '${specifier}' has no exported function '${exportName}' (functions: ${names.join(', ') || 'none'})`,
    );
  }
  return fn as TaskFunction;
}
