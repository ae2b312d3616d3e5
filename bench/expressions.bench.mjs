// Vector expressions at n = 1e6 and 1e7, every result written into a preallocated output (numexpr's
// out=): native VM on 1 thread and on all threads, the generated pure-TS fused loop, a hand-written
// fused JS loop, naive TS with one temporary array per operation (how array libraries work), mathjs
// (its expression parser over plain arrays, n = 1e6 only: seconds per call at 1e7), and numexpr itself
// through /usr/bin/python3 on the same data when it is installed. A plain copy of one array gives the
// streaming bound: bytes read and written at the copy bandwidth of this run. Every row goes through
// row(): its own columns around the ones all rows share; a new row is one entry in a case table.
import { NATIVE_MIN_LENGTH, compile, backend } from 'hotpath';
import { all, create } from 'mathjs';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { measure, report, uniformArray } from './harness.mjs';

const SIZES = [1_000_000, 10_000_000];
const MATHJS_MAX_N = 1_000_000;
const math = create(all);
const THREADS = os.availableParallelism();
const NATIVE_ALL = `native, ${THREADS} threads`;
const NUMEXPR = 'numexpr (python3)';
const NATIVE_SKIP = backend === 'native' ? undefined : 'native addon not loaded';

// Each case: the expression, the arrays it streams (for the bound), a hand-written fused loop, and
// the naive version with one temporary per operation.
const CASES = [
  {
    expr: '2*a + 3*b',
    mathjs: '2*a + 3*b',
    arrays: 2,
    fused: (v, out) => {
      const { a, b } = v;
      for (let i = 0; i < out.length; i++) out[i] = 2 * a[i] + 3 * b[i];
      return out;
    },
    naive: (v, out) => add(scale(v.a, 2), scale(v.b, 3), out),
  },
  {
    expr: 'a*b + c*sin(d)',
    mathjs: 'a .* b + c .* map(d, sin)',
    arrays: 4,
    fused: (v, out) => {
      const { a, b, c, d } = v;
      for (let i = 0; i < out.length; i++) out[i] = a[i] * b[i] + c[i] * Math.sin(d[i]);
      return out;
    },
    naive: (v, out) => add(mul(v.a, v.b), mul(v.c, map(v.d, Math.sin)), out),
  },
  {
    expr: 'where(a > 0.5, sqrt(a), b**2)',
    mathjs: null,
    arrays: 2,
    fused: (v, out) => {
      const { a, b } = v;
      for (let i = 0; i < out.length; i++) {
        const x = a[i];
        out[i] = x > 0.5 ? Math.sqrt(x) : b[i] * b[i];
      }
      return out;
    },
    naive: (v, out) =>
      where(
        map(v.a, (x) => (x > 0.5 ? 1 : 0)),
        map(v.a, Math.sqrt),
        mul(v.b, v.b),
        out,
      ),
  },
  {
    expr: '2*a + b**10',
    mathjs: '2*a + b .^ 10',
    arrays: 2,
    fused: (v, out) => {
      const { a, b } = v;
      for (let i = 0; i < out.length; i++) {
        const b2 = b[i] * b[i];
        const b4 = b2 * b2;
        out[i] = 2 * a[i] + b2 * (b4 * b4);
      }
      return out;
    },
    naive: (v, out) =>
      add(
        scale(v.a, 2),
        map(v.b, (x) => x ** 10),
        out,
      ),
  },
  {
    expr: 'sum(a*b)',
    mathjs: 'sum(a .* b)',
    arrays: 2,
    reduction: true,
    fused: (v) => {
      const { a, b } = v;
      let s = 0;
      for (let i = 0; i < a.length; i++) s += a[i] * b[i];
      return s;
    },
    naive: (v) => mul(v.a, v.b).reduce((s, x) => s + x, 0),
  },
];

function mathjsCase(c, plain) {
  const label = 'mathjs (plain arrays)';
  if (c.mathjs === null) return { label, skip: 'mathjs has no elementwise where()' };
  if (plain === null)
    return { label, skip: `seconds per call: measured at n <= ${MATHJS_MAX_N.toExponential(0)} only` };
  const code = math.compile(c.mathjs);
  return { label, run: () => code.evaluate(plain), repeat: 3 };
}

function scale(x, k) {
  const r = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) r[i] = x[i] * k;
  return r;
}
function mul(x, y) {
  const r = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) r[i] = x[i] * y[i];
  return r;
}
function map(x, f) {
  const r = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) r[i] = f(x[i]);
  return r;
}
function add(x, y, out) {
  for (let i = 0; i < x.length; i++) out[i] = x[i] + y[i];
  return out;
}
function where(c, x, y, out) {
  for (let i = 0; i < c.length; i++) out[i] = c[i] !== 0 ? x[i] : y[i];
  return out;
}

const seeded = (n, seed) => uniformArray(n, seed);

const numexprProbe = spawnSync('/usr/bin/python3', ['-c', 'import numexpr, numpy'], { encoding: 'utf8' });
const numexprMissing =
  numexprProbe.status === 0 ? null : 'numexpr not installed for /usr/bin/python3 (apt install python3-numexpr)';

const NUMPY_DTYPES = { Float64Array: 'float64', Int32Array: 'int32' };

/**
 * The arrays of some rows written once for numexpr: name → typed array or { data, shape }. Null when numexpr
 * is missing. Free with dropNumexprData.
 */
function numexprData(arrays) {
  if (numexprMissing) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-expr-'));
  const meta = {};
  for (const [name, value] of Object.entries(arrays)) {
    const { data, shape = [data.length] } = ArrayBuffer.isView(value) ? { data: value } : value;
    fs.writeFileSync(path.join(dir, name), data);
    meta[name] = [NUMPY_DTYPES[data.constructor.name], shape];
  }
  fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
  return dir;
}

function dropNumexprData(dir) {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

// numexpr on the same arrays and shapes, its result written into a preallocated out= (of numexpr's own type)
// unless it is a reduction: 2 warmups, median of 7.
const NUMEXPR_SCRIPT = `
import sys, json, time, numpy as np, numexpr as ne
d, expr, reduction = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
meta = json.load(open(f"{d}/meta.json"))
v = {k: np.fromfile(f"{d}/{k}", dtype=t).reshape(s) for k, (t, s) in meta.items()}
out = None if reduction else ne.evaluate(expr, local_dict=v)
times = []
for i in range(9):
    t0 = time.perf_counter()
    ne.evaluate(expr, local_dict=v) if reduction else ne.evaluate(expr, local_dict=v, out=out)
    times.append((time.perf_counter() - t0) * 1e3)
print(sorted(times[2:])[3])
`;

function timeNumexpr(dir, expr, reduction) {
  if (!dir) return null;
  const args = ['-c', NUMEXPR_SCRIPT, dir, expr, reduction ? '1' : '0'];
  const r = spawnSync('/usr/bin/python3', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return Number(r.stdout.trim());
}

/**
 * One benchmark row: `before`, the columns every row shares (the generated pure-TS loop, native on one and on
 * all threads, numexpr's time `numexprMs`), then `after`. `out`: the preallocated result (none for reductions).
 */
function row(id, title, { program, vars, out, numexprMs, before = [], after = [], baseline = NATIVE_ALL }) {
  const opts = (extra) => (out ? { ...extra, out } : extra);
  const native = (threads) => () => program.run(vars, opts({ backend: 'native', threads }));
  return report(
    id,
    title,
    [
      ...before,
      { label: 'pure-TS fused (generated)', run: () => program.run(vars, opts({ backend: 'js' })) },
      { label: 'native, 1 thread', run: native(1), skip: NATIVE_SKIP },
      { label: NATIVE_ALL, run: native(THREADS), skip: NATIVE_SKIP },
      numexprMs === null ? { label: NUMEXPR, skip: numexprMissing } : { label: NUMEXPR, ms: numexprMs },
      ...after,
    ],
    { baseline },
  );
}

const sizeLabel = (n) => n.toExponential(0).replace('+', '');
const streamingBound = (copyMs, streams) => ({ label: 'streaming bound (copy bandwidth)', ms: (copyMs * streams) / 2 });

/** A plain copy of n float64s: 2 streams (read + write) at this run's bandwidth. */
async function copyTime(n) {
  const from = seeded(n, 99);
  const to = new Float64Array(n);
  return measure(() => to.set(from));
}

export default async function run() {
  if (numexprMissing) console.log(`\nexpressions: numexpr column skipped: ${numexprMissing}`);
  const results = [];
  for (const n of SIZES) results.push(...(await floatRows(n)));
  for (const n of SIZES) results.push(...(await integerRows(n)));
  results.push(...(await shapeRows()));
  results.push(await smallArrays());
  return results;
}

async function floatRows(n) {
  const vars = { a: seeded(n, 1), b: seeded(n, 2), c: seeded(n, 3), d: seeded(n, 4) };
  const plain = n <= MATHJS_MAX_N ? Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, Array.from(v)])) : null;
  const out = new Float64Array(n);
  const copyMs = await copyTime(n);
  const dir = numexprData(vars);
  const results = [];
  for (const [index, c] of CASES.entries()) {
    const streams = c.arrays + (c.reduction ? 0 : 1);
    const bound = streamingBound(copyMs, streams);
    const title = `${c.expr} at n = ${n.toExponential(0)} (streaming bound ${bound.ms.toFixed(2)} ms from a \
${copyMs.toFixed(2)} ms copy; ${THREADS} threads)`;
    const handWritten = 'hand-written fused JS loop';
    results.push(
      await row(`expressions-${sizeLabel(n)}-${index + 1}`, title, {
        program: compile(c.expr),
        vars,
        out: c.reduction ? undefined : out,
        numexprMs: timeNumexpr(dir, c.expr, c.reduction),
        before: [
          { label: handWritten, run: () => c.fused(vars, out) },
          { label: 'naive TS, one temporary per op', run: () => c.naive(vars, out), repeat: 3 },
        ],
        after: [mathjsCase(c, plain), bound],
        baseline: handWritten,
      }),
    );
  }
  dropNumexprData(dir);
  return results;
}

// Integer inputs (issue 18): an int32 masked product and a count (a boolean reduction; numexpr 2.8
// cannot sum booleans, so both sides count with where(.., 1, 0)). Each side writes into a preallocated
// result of its own result type. Same data for both (Int32Array in [0, 20)).
const INTEGER_CASES = [
  { expr: 'where((a > 10) & (b < 5), a*b, 0)', reduction: false },
  { expr: 'sum(where(a > 10, 1, 0))', reduction: true },
];

async function integerRows(n) {
  const ints = (seed) => Int32Array.from(seeded(n, seed), (x) => Math.floor(x * 20));
  const vars = { a: ints(5), b: ints(6) };
  const dir = numexprData(vars);
  const results = [];
  for (const [index, c] of INTEGER_CASES.entries()) {
    // The result type hotpath gives these inputs (Int32Array for int32 arithmetic), from a 16-element run.
    const sample = c.reduction ? null : compile(c.expr).run({ a: vars.a.subarray(0, 16), b: vars.b.subarray(0, 16) });
    const out = sample && new sample.constructor(n);
    const title = `${c.expr} over Int32Array at n = ${n.toExponential(0)} (${THREADS} threads)`;
    results.push(
      await row(`expressions-int-${sizeLabel(n)}-${index + 1}`, title, {
        program: compile(c.expr),
        vars,
        out,
        numexprMs: timeNumexpr(dir, c.expr, c.reduction),
        baseline: NUMEXPR,
      }),
    );
  }
  dropNumexprData(dir);
  return results;
}

// n-d inputs (issue 18): a broadcast (1000,1) x (1,10000) product into a preallocated result, and a
// per-row sum(a*b, axis=1) over (10000,1000). The native side reads the views in place (a broadcast row as
// one scalar) and reduces along the axis on all threads (native/expr/ndarray_kernel.cc). numexpr gets the
// same shapes and data. `streams`: float64 arrays of 1e7 elements read or written (the streaming bound).
const SHAPE_CASES = [
  { expr: 'a*b', shapes: { a: [1000, 1], b: [1, 10000] }, out: [1000, 10000], streams: 1 },
  { expr: 'sum(a*b, axis=1)', shapes: { a: [10000, 1000], b: [10000, 1000] }, out: null, streams: 2 },
];

async function shapeRows() {
  const copyMs = await copyTime(1e7);
  const results = [];
  for (const [index, c] of SHAPE_CASES.entries()) {
    const vars = Object.fromEntries(
      Object.entries(c.shapes).map(([k, shape], j) => [k, { data: seeded(shape[0] * shape[1], 7 + j), shape }]),
    );
    const dir = numexprData(vars);
    const shapes = Object.entries(c.shapes)
      .map(([k, s]) => `${k} (${s.join(',')})`)
      .join(', ');
    results.push(
      await row(`expressions-nd-${index + 1}`, `${c.expr} over ${shapes} (${THREADS} threads)`, {
        program: compile(c.expr),
        vars,
        out: c.out ? new Float64Array(c.out[0] * c.out[1]) : undefined,
        numexprMs: timeNumexpr(dir, c.expr, !c.out),
        after: [streamingBound(copyMs, c.streams)],
      }),
    );
    dropNumexprData(dir);
  }
  return results;
}

// n = 1000: the default backend must cost no more than the pure-TS path (it dispatches below NATIVE_MIN_LENGTH).
async function smallArrays() {
  const n = 1000;
  const calls = 1000;
  const vars = { a: seeded(n, 1), b: seeded(n, 2) };
  const out = new Float64Array(n);
  const program = compile('2*a + 3*b');
  const repeatCalls = (fn) => () => {
    for (let k = 0; k < calls; k++) fn();
  };
  return report(
    'expressions-small',
    `2*a + 3*b at n = ${n}, ${calls} calls with a cached program (default dispatch below NATIVE_MIN_LENGTH = \
${NATIVE_MIN_LENGTH})`,
    [
      { label: 'hand-written fused JS loop', run: repeatCalls(() => CASES[0].fused(vars, out)) },
      { label: 'pure-TS fused (generated)', run: repeatCalls(() => program.run(vars, { backend: 'js', out })) },
      { label: 'default backend (dispatched)', run: repeatCalls(() => program.run(vars, { out })) },
      {
        label: 'native, 1 thread',
        run: repeatCalls(() => program.run(vars, { backend: 'native', threads: 1, out })),
        skip: NATIVE_SKIP,
      },
    ],
    { baseline: 'pure-TS fused (generated)' },
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
