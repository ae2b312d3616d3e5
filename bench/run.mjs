// `npm run bench`: every bench/*.bench.mjs in one run; each prints its ratios and writes
// bench/results/<name>.json. Pass names to run a subset: `npm run bench -- moments`.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
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
