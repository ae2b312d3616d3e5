// Finds the function a gateway or cluster worker runs: a module named by a path (absolute, or
// relative to the base directory) or a package name, and one of its exports. Code never travels:
// only these names do. A .ts path maps to its compiled .js as for the Pool. Loaded by the remote
// side too: no third-party imports.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolveTaskModule } from './module-path.js';

export type TaskFunction = (...args: unknown[]) => unknown;

const loaded = new Map<string, Promise<Record<string, unknown>>>();
/** Per module URL, how many times it was forgotten: the next import asks for a new module instance. */
const generations = new Map<string, number>();

/** Built-in error classes a load error keeps (a SyntaxError in the module stays a SyntaxError). */
const loadErrorClasses: Record<string, new (message: string, options?: { cause?: unknown }) => Error> = {
  SyntaxError,
  TypeError,
  RangeError,
  ReferenceError,
  EvalError,
  URIError,
};

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

/**
 * Forgets the imported module `specifier`: the next loadExport imports its file again (an ES
 * module under a new URL, a CommonJS one out of require's cache). Modules it imports stay cached.
 */
export function forgetModule(specifier: string, baseDir: string): void {
  const url = resolveModule(specifier, baseDir);
  loaded.delete(url);
  generations.set(url, (generations.get(url) ?? 0) + 1);
  delete require.cache[fileURLToPath(url)];
}

/** The exported function `exportName` of `specifier`; modules are imported once per process (see forgetModule). */
export async function loadExport(specifier: string, exportName: string, baseDir: string): Promise<TaskFunction> {
  let url: string;
  let namespace: Record<string, unknown>;
  try {
    url = resolveModule(specifier, baseDir);
    let pending = loaded.get(url);
    if (!pending) {
      const generation = generations.get(url);
      const fresh = generation === undefined ? url : `${url}?hotpath-generation=${generation}`;
      pending = import(fresh) as Promise<Record<string, unknown>>;
      loaded.set(url, pending);
      pending.catch(() => loaded.delete(url));
    }
    namespace = await pending;
  } catch (error) {
    const name = (error as Error)?.name;
    const Kind = (typeof name === 'string' && loadErrorClasses[name]) || Error;
    const message = `cannot load module '${specifier}' (from ${baseDir}): ${(error as Error).message}`;
    throw new Kind(message, { cause: error });
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
