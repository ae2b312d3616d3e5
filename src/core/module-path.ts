// Where a Pool's task module lives. Workers run compiled JavaScript (Node 20 cannot start a .ts
// worker), so a .ts path is mapped through the nearest tsconfig.json (rootDir -> outDir) to the file
// the project's own build emits, the way `tsc` would place it.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { typeName } from './validate.js';

const tsExtensions: Record<string, string> = { '.ts': '.js', '.mts': '.mjs', '.cts': '.cjs' };

function findTsconfig(from: string): string | null {
  for (let dir = path.dirname(from); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'tsconfig.json');
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return null;
  }
}

function compiledPath(where: string, source: string): string {
  const tsconfig = findTsconfig(source);
  if (!tsconfig)
    throw new Error(
      `${where}: ${source} is TypeScript and no tsconfig.json was found above it: give the compiled .js path`,
    );
  let compilerOptions: { rootDir?: string; outDir?: string };
  try {
    // tsconfig allows comments; drop whole-line ones, the common case.
    const text = fs.readFileSync(tsconfig, 'utf8').replace(/^\s*\/\/.*$/gm, '');
    compilerOptions = (JSON.parse(text) as { compilerOptions?: typeof compilerOptions }).compilerOptions ?? {};
  } catch (cause) {
    throw new Error(
      `${where}: cannot read ${tsconfig} to locate the compiled ${path.basename(source)}: give the .js path`,
      { cause },
    );
  }
  const base = path.dirname(tsconfig);
  const rootDir = path.resolve(base, compilerOptions.rootDir ?? '.');
  const outDir = path.resolve(base, compilerOptions.outDir ?? '.');
  const relative = path.relative(rootDir, source);
  if (relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new Error(`${where}: ${source} is outside rootDir ${rootDir} of ${tsconfig}: give the compiled .js path`);
  }
  const ext = path.extname(source);
  const target = path.join(outDir, relative.slice(0, -ext.length) + tsExtensions[ext]);
  if (!fs.existsSync(target)) {
    throw new Error(
      `${where}: ${source} compiles to ${target}, which does not exist: build the project first (tsc -p ${tsconfig})`,
    );
  }
  return target;
}

/** Absolute path of the JavaScript file workers load, from the `filename` or `module` option. */
export function resolveTaskModule(where: string, filename: unknown, moduleSpecifier: unknown): string {
  if ((filename === undefined) === (moduleSpecifier === undefined)) {
    throw new TypeError(
      `${where}: give exactly one of filename (a path or file: URL) and module (a package specifier)`,
    );
  }
  if (moduleSpecifier !== undefined) {
    if (typeof moduleSpecifier !== 'string')
      throw new TypeError(`${where}: module must be a string, got ${typeName(moduleSpecifier)}`);
    try {
      return require.resolve(moduleSpecifier, { paths: [process.cwd()] });
    } catch (cause) {
      throw new Error(`${where}: cannot resolve module '${moduleSpecifier}' from ${process.cwd()}`, { cause });
    }
  }
  let file: string;
  if (filename instanceof URL) file = fileURLToPath(filename);
  else if (typeof filename === 'string')
    file = filename.startsWith('file:') ? fileURLToPath(filename) : path.resolve(filename);
  else throw new TypeError(`${where}: filename must be a string or URL, got ${typeName(filename)}`);
  if (!fs.existsSync(file)) throw new Error(`${where}: task module not found: ${file}`);
  return path.extname(file) in tsExtensions && !file.endsWith('.d.ts') ? compiledPath(where, file) : file;
}
