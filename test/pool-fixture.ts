// Compiles test/fixtures/pool-tasks.ts to JavaScript for the pool's workers (Node 20 cannot run
// .ts workers). Written next to the source so the fixture's `import 'hotpath'` resolves to this
// package; renamed into place so test files compiling it at once never see a partial file.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export function compileFixture(name: string): string {
  const source = path.join(__dirname, 'fixtures', name);
  const outDir = path.join(__dirname, 'fixtures', '.build');
  const target = path.join(outDir, name.replace(/\.ts$/, '.js'));
  const { outputText } = ts.transpileModule(fs.readFileSync(source, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  fs.mkdirSync(outDir, { recursive: true });
  const temp = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(temp, outputText);
  fs.renameSync(temp, target);
  return target;
}
