// `npm run bench`: every bench/*.bench.mjs in one run; each prints its ratios and writes
// bench/results/<name>.json. Pass names to run a subset: `npm run bench -- moments`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
// The libraries the benchmarks compare hotpath with are bench/package.json's dependencies, kept out of the
// package's own install; they are installed here on first use, and again when bench/package-lock.json changes.
const installed = path.join(dir, 'node_modules', '.package-lock.json');
const mtime = (file) => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : -1);
if (mtime(installed) < mtime(path.join(dir, 'package-lock.json'))) {
  console.log("bench: installing the benchmarks' dependencies (npm --prefix bench ci --ignore-scripts)");
  const npm = spawnSync('npm', ['--prefix', dir, 'ci', '--ignore-scripts', '--no-audit', '--no-fund'], {
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  if (npm.status !== 0) process.exit(npm.status ?? 1);
}
const wanted = process.argv.slice(2);
const available = fs.readdirSync(dir).filter((f) => f.endsWith('.bench.mjs'));
const unknown = wanted.filter((w) => !available.some((f) => f.startsWith(w)));
if (unknown.length > 0) {
  const names = available.map((f) => f.replace(/\.bench\.mjs$/, '')).join(', ');
  console.error(`bench: no benchmark named ${unknown.map((w) => `'${w}'`).join(', ')}; available: ${names}`);
  process.exit(2);
}
const files = available.filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)));
fs.mkdirSync(path.join(dir, 'results'), { recursive: true });
const all = [];
for (const file of files.sort()) {
  const mod = await import(path.join(dir, file));
  all.push(await mod.default());
}
fs.writeFileSync(path.join(dir, 'results', 'all.json'), JSON.stringify(all, null, 2) + '\n');
console.log(`\nwrote ${files.length} result file(s) to bench/results/`);
