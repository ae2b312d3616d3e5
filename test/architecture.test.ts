// The import graph of src/: no cycles, and every import follows the layering of issue 14.
//   core  <- async <- pool <- parallel, distributed
//   core  <- lang (the expression language: ast, parser, ir, ops) <- expr, opencl
// A folder may import the folders listed for it below. 'any' (a layer: core, lang, async, and
// memprof under pool) allows any of its modules; 'index' allows only the folder's index.ts, so no
// capability reaches into a sibling's internals. Nothing imports cli/ (the application on top).
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers.js';

type Access = 'any' | 'index';
const core = { core: 'any' } as const;
const allowed: Record<string, Record<string, Access>> = {
  core: {},
  lang: { ...core },
  async: { ...core },
  moments: { ...core },
  countmin: { ...core },
  cache: { ...core },
  memprof: { ...core },
  // A Pool profiles its tasks' memory in the worker: memprof is a layer below the pool.
  pool: { ...core, async: 'any', memprof: 'any' },
  expr: { ...core, lang: 'any' },
  opencl: { ...core, lang: 'any' },
  parallel: { ...core, async: 'any', pool: 'index', expr: 'index', moments: 'index' },
  distributed: { ...core, async: 'any', moments: 'index' },
};
const capabilities = Object.keys(allowed);

const srcRoot = path.join(repoRoot, 'src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/**
 * Specifiers of `import type` declarations: erased at compile time, they add no load-time edge (the
 * public types of one capability may mention another's, as Program.runOpenCL mentions opencl's Device).
 */
function typeOnlyImports(text: string): Set<string> {
  const source = ts.createSourceFile('module.ts', text, ts.ScriptTarget.Latest);
  const specifiers = new Set<string>();
  for (const statement of source.statements) {
    if (
      ts.isImportDeclaration(statement) &&
      statement.importClause?.isTypeOnly &&
      ts.isStringLiteral(statement.moduleSpecifier)
    ) {
      specifiers.add(statement.moduleSpecifier.text);
    }
  }
  return specifiers;
}

/** src-relative module path ('pool/pool.ts') -> the src-relative modules it loads (static, dynamic, require). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(srcRoot)) {
    const text = fs.readFileSync(file, 'utf8');
    const typeOnly = typeOnlyImports(text);
    const { importedFiles } = ts.preProcessFile(text, true, true);
    const targets = importedFiles
      .map((imported) => imported.fileName)
      .filter((specifier) => !typeOnly.has(specifier))
      .filter((specifier) => specifier.startsWith('.'))
      .map((specifier) => path.relative(srcRoot, path.resolve(path.dirname(file), specifier)).replace(/\.js$/, '.ts'));
    graph.set(path.relative(srcRoot, file), targets);
  }
  return graph;
}

const folderOf = (module: string) => (module.includes('/') ? module.split('/')[0] : '');

/** Why importing `to` from `from` breaks the layering, or null when it is allowed. */
function layeringBreak(from: string, to: string): string | null {
  const source = folderOf(from);
  const target = folderOf(to);
  if (target === 'cli' && source !== 'cli') return 'nothing imports cli/';
  // The package entry (src/index.ts) and the CLI sit on top and may import anything but each other's insides.
  if (source === '' || source === 'cli' || source === target) return null;
  if (!(source in allowed)) return `src/${source}/ is not in the layering table of test/architecture.test.ts`;
  const access = allowed[source][target];
  if (access === undefined) return `${source}/ may not import ${target === '' ? to : `${target}/`}`;
  if (access === 'index' && to !== `${target}/index.ts`) return `${source}/ may import only ${target}/index.ts`;
  return null;
}

function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (module: string): string[] | null => {
    if (state.get(module) === 'done') return null;
    if (state.get(module) === 'visiting') return [...stack.slice(stack.indexOf(module)), module];
    state.set(module, 'visiting');
    stack.push(module);
    for (const next of graph.get(module) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(module, 'done');
    return null;
  };
  for (const module of graph.keys()) {
    const cycle = visit(module);
    if (cycle) return cycle;
  }
  return null;
}

describe('import graph of src/', () => {
  const graph = importGraph();

  it('reads every module and resolves every relative import to a source file', () => {
    expect(graph.size).toBeGreaterThan(50);
    const missing = [...graph].flatMap(([from, targets]) =>
      targets.filter((to) => !graph.has(to)).map((to) => `${from} -> ${to}`),
    );
    expect(missing).toEqual([]);
  });

  it('has no import cycle', () => {
    expect(findCycle(graph)).toBeNull();
  });

  it('follows the layering: core <- async <- pool <- parallel, distributed; core <- lang <- expr, opencl', () => {
    const breaks = [...graph].flatMap(([from, targets]) =>
      targets.flatMap((to) => {
        const why = layeringBreak(from, to);
        return why ? [`${from} -> ${to}: ${why}`] : [];
      }),
    );
    expect(breaks).toEqual([]);
  });

  it('has every folder of src/ in the layering table', () => {
    const folders = new Set([...graph.keys()].map(folderOf).filter((folder) => folder !== '' && folder !== 'cli'));
    expect([...folders].filter((folder) => !capabilities.includes(folder))).toEqual([]);
  });

  it('catches a layering break and a cycle (the checks are live)', () => {
    expect(layeringBreak('core/future.ts', 'pool/pool.ts')).toBe('core/ may not import pool/');
    expect(layeringBreak('parallel/parallel.ts', 'pool/pool.ts')).toBe('parallel/ may import only pool/index.ts');
    expect(layeringBreak('pool/pool.ts', 'distributed/index.ts')).toBe('pool/ may not import distributed/');
    expect(layeringBreak('moments/moments.ts', 'cli/io.ts')).toBe('nothing imports cli/');
    expect(layeringBreak('expr/program.ts', 'lang/parser.ts')).toBeNull();
    const cyclic = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
    ]);
    expect(findCycle(cyclic)).toEqual(['a.ts', 'b.ts', 'c.ts', 'a.ts']);
  });
});
