// Tiny benchmark harness shared by bench/*.bench.mjs: median-of-N timing, ratio table, JSON output.
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { mulberry32 } from '../dist/core/random.js';

/** `n` uniform doubles in [lo, hi) from the project's one seeded PRNG; `shared`: in a SharedArrayBuffer. */
export function uniformArray(n, seed, { lo = 0, hi = 1, shared = false } = {}) {
  const random = mulberry32(seed);
  const out = shared ? new Float64Array(new SharedArrayBuffer(n * 8)) : new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + random() * (hi - lo);
  return out;
}

/** Median time of fn(input) over `repeat` runs; `setup` (untimed) makes a fresh input for each run. */
export async function measure(fn, { repeat = 7, warmup = 2, setup } = {}) {
  for (let i = 0; i < warmup; i++) await fn(setup?.());
  const times = [];
  for (let i = 0; i < repeat; i++) {
    const input = setup?.();
    const t0 = performance.now();
    await fn(input);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * Runs each case, prints ms and the ratio to `baseline` (how many times faster than it), and
 * writes bench/results/<name>.json. Cases whose peer is missing are reported, not faked.
 */
export async function report(name, description, cases, { baseline, repeat } = {}) {
  console.log(`\n## ${name}: ${description}`);
  const rows = [];
  for (const c of cases) {
    if (c.skip) {
      console.log(`  ${c.label.padEnd(40)} skipped: ${c.skip}`);
      rows.push({ label: c.label, skipped: c.skip });
      continue;
    }
    // `ms` reports a time measured elsewhere (another process, or a derived bound) in the same table;
    // `scale`: a slow case timed on a prefix reports the time of the full workload (ms x scale).
    const ms =
      c.ms ?? (await measure(c.run, { repeat: c.repeat ?? repeat, warmup: c.warmup, setup: c.setup })) * (c.scale ?? 1);
    rows.push({ label: c.label, ms, ...(c.unit ? { throughput: c.unit(ms) } : {}) });
  }
  const base = rows.find((r) => r.label === baseline)?.ms;
  for (const r of rows) {
    if (r.skipped) continue;
    r.speedupVsBaseline = base ? base / r.ms : null;
    const extra = r.throughput ? `  ${r.throughput}` : '';
    console.log(
      `  ${r.label.padEnd(40)} ${r.ms.toFixed(2).padStart(9)} ms  ` +
        `${base ? `${(base / r.ms).toFixed(2)}x vs ${baseline}` : ''}${extra}`,
    );
  }
  const dir = path.join(path.dirname(new URL(import.meta.url).pathname), 'results');
  fs.mkdirSync(dir, { recursive: true });
  const out = { name, description, baseline, node: process.version, date: new Date().toISOString(), rows };
  fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(out, null, 2) + '\n');
  return out;
}
