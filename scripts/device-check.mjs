// `npm run device-check`: one command that proves the OpenCL path on whatever devices a machine has
// (written for a GPU machine seen once, so it takes no arguments and bounds its own time):
//   1. prints how OpenCL was reached (loader or vendor drivers opened directly) and every device;
//   2. runs every test/opencl*.test.ts file against each device in turn (HOTPATH_OPENCL_DEVICE=index);
//   3. benchmarks each device: transfer in/out (GB/s), kernel and end-to-end times of `a*b + c*sin(d)`
//      and a degree-50 polynomial at n = 1e6, 1e7, 1e8 in float32 and float64 (where the device has
//      fp64), a device-resident chain of two expressions, and the native CPU path, as ratios;
//   4. writes bench/results/device-check.json (after each stage too, so a run cut short leaves what it
//      measured) and exits non-zero if any test failed on any device.
// Sizes that would not fit the device or host memory, or the remaining time, are skipped and say so.
// HOTPATH_DEVICE_CHECK_SECONDS (default 480) bounds the whole run; the tests get priority.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const hotpath = createRequire(import.meta.url)(path.join(root, 'dist', 'index.js'));
const { evaluate, opencl } = hotpath;

const started = performance.now();
const budgetMs = Number(process.env.HOTPATH_DEVICE_CHECK_SECONDS || 480) * 1000;
const remainingMs = () => budgetMs - (performance.now() - started);
const log = (line = '') => console.log(line);

// ---- 1. What is there ------------------------------------------------------------------------------

const machine = {
  host: os.hostname(),
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cpus: os.availableParallelism(),
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  backend: hotpath.backend,
  date: new Date().toISOString(),
};
log(
  `# hotpath device check on ${machine.host}: ${machine.cpus} x ${machine.cpu}, ${machine.memoryGiB} GiB, ` +
    `node ${machine.node}`,
);
if (!opencl.available()) {
  log(`OpenCL is not available: ${opencl.unavailableReason()}`);
  const reason = opencl.unavailableReason();
  writeResults({ machine, opencl: { available: false, reason }, ok: false, complete: true });
  process.exit(2);
}
const loadPath = opencl.loadPath();
const via = loadPath.via === 'loader' ? 'the ICD loader' : 'vendor drivers opened directly (no ICD loader)';
log(`OpenCL via ${via}: ${loadPath.libraries.join(', ')}`);
const devices = opencl.devices();
const deviceInfo = devices.map((d) => ({
  index: d.index,
  name: d.name,
  type: d.type,
  platform: d.platform.name,
  vendor: d.vendor,
  version: d.version,
  driverVersion: d.driverVersion,
  computeUnits: d.computeUnits,
  clockMHz: d.clockMHz,
  globalMemoryMiB: Math.round(d.globalMemory / 2 ** 20),
  maxAllocationMiB: Math.round(d.maxAllocation / 2 ** 20),
  fp64: d.fp64,
}));
const found = { machine, opencl: { available: true, loadPath, devices: deviceInfo } };
for (const d of deviceInfo) {
  log(
    `  device ${d.index}: ${d.name} (${d.type}, ${d.platform}, ${d.version}, driver ${d.driverVersion}), ` +
      `${d.computeUnits} CUs @ ${d.clockMHz} MHz, ${d.globalMemoryMiB} MiB, fp64 ${d.fp64 ? 'yes' : 'no'}`,
  );
}

// ---- 2. The OpenCL test files on every device -----------------------------------------------------

const testFiles = fs
  .readdirSync(path.join(root, 'test'))
  .filter((f) => /^opencl.*\.test\.ts$/.test(f))
  .sort()
  .map((f) => `test/${f}`);
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const tests = [];
for (const device of devices) {
  const report = path.join(os.tmpdir(), `hotpath-device-check-${process.pid}-${device.index}.json`);
  log(`\n## tests on device ${device.index} (${device.name}): ${testFiles.join(' ')}`);
  const t0 = performance.now();
  // A hung driver must not eat the whole budget: the test runs share 60% of it, the rest is the benchmarks'.
  const args = [vitest, 'run', ...testFiles, '--reporter=default', '--reporter=json', `--outputFile.json=${report}`];
  const r = spawnSync(process.execPath, args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, HOTPATH_OPENCL_DEVICE: String(device.index) },
    timeout: Math.max(60_000, (0.6 * budgetMs) / devices.length),
    killSignal: 'SIGKILL',
  });
  const seconds = (performance.now() - t0) / 1000;
  const summary = { device: device.index, exitCode: r.status, signal: r.signal, seconds };
  try {
    const json = JSON.parse(fs.readFileSync(report, 'utf8'));
    summary.total = json.numTotalTests;
    summary.passed = json.numPassedTests;
    summary.failed = json.numFailedTests;
    summary.skipped = json.numPendingTests + json.numTodoTests;
    summary.failures = json.testResults.flatMap((file) =>
      file.assertionResults
        .filter((a) => a.status === 'failed')
        .map((a) => `${path.basename(file.name)}: ${a.fullName}: ${(a.failureMessages[0] ?? '').split('\n')[0]}`),
    );
    fs.rmSync(report, { force: true });
  } catch (error) {
    const why = r.signal ? `killed by ${r.signal} after ${summary.seconds.toFixed(0)} s` : error.message;
    summary.failures = [`no test report (${why})`];
  }
  summary.ok = r.status === 0 && summary.failed === 0 && summary.passed > 0;
  tests.push(summary);
  writeResults({ ...found, testFiles, tests, complete: false });
  const counts = `${summary.passed ?? '?'} passed, ${summary.failed ?? '?'} failed, ${summary.skipped ?? '?'} skipped`;
  log(`tests on device ${device.index}: ${summary.ok ? 'PASS' : 'FAIL'} (${counts}, ${summary.seconds.toFixed(1)} s)`);
}

// ---- 3. Benchmarks ---------------------------------------------------------------------------------

const horner = Array.from({ length: 50 }, (_, k) => k).reduce((acc, k) => `(${acc}*a + ${((k % 7) - 3) / 8})`, '0.5');
const expressions = [
  { name: 'light', expr: 'a*b + c*sin(d)', inputs: ['a', 'b', 'c', 'd'] },
  { name: 'poly50', expr: horner, inputs: ['a'] },
];
// The chain: the second expression reads the first's result, which stays on the device.
const chain = { first: 'a*b + c*sin(d)', second: 'sqrt(abs(t)) * a + t / (1 + d*d)' };
const sizes = [1e6, 1e7, 1e8];

function data(n, seed) {
  let s = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296) * 2 - 1;
  return out;
}

// Median of timed runs after one warm-up (which also builds the kernel): 1 to 7 runs, about 1 to 3 s.
async function median(fn) {
  await fn();
  const times = [];
  const t0 = performance.now();
  do {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  } while (times.length < 7 && (times.length < 3 || performance.now() - t0 < 1000) && performance.now() - t0 < 3000);
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

// Largest relative difference between the device's and the CPU's answers (on the first 1e5 elements).
function maxRelativeError(device, cpu) {
  let worst = 0;
  for (let i = 0; i < Math.min(device.length, 1e5); i++) {
    const scale = Math.max(1, Math.abs(cpu[i]));
    worst = Math.max(worst, Math.abs(device[i] - cpu[i]) / scale);
  }
  return worst;
}

const round = (x, digits = 3) => (x === null || x === undefined ? x : Number(x.toPrecision(digits)));

async function benchSize(context, n, precision, host) {
  const real = precision === 'float32' ? 'float' : 'double';
  const Array_ = precision === 'float32' ? Float32Array : Float64Array;
  const bytes = n * Array_.BYTES_PER_ELEMENT;
  const mapValues = (object, fn) => Object.fromEntries(Object.entries(object).map(([k, v]) => [k, fn(v)]));
  const arrays = mapValues(host, (v) => (precision === 'float32' ? Float32Array.from(v) : v));
  const buffers = mapValues(arrays, (v) => context.buffer(v, { access: 'read_only' }));
  const deviceOut = context.buffer(bytes, { type: real });
  const deviceTmp = context.buffer(bytes, { type: real });
  const hostOut = new Array_(n);
  const cpuOut = new Array_(n);
  const row = { n, precision };
  let workMs = 0; // the sum of every case's median: what one more size costs, scaled by n
  const time = async (fn) => {
    const ms = await median(fn);
    workMs += ms;
    return ms;
  };
  try {
    const inMs = await time(() => buffers.a.write(arrays.a));
    const outMs = await time(() => deviceOut.read(hostOut));
    row.transfer = {
      inGBps: round(bytes / inMs / 1e6),
      outGBps: round(bytes / outMs / 1e6),
      inMs: round(inMs),
      outMs: round(outMs),
    };
    for (const { name, expr, inputs } of expressions) {
      const pick = (from) => Object.fromEntries(inputs.map((k) => [k, from[k]]));
      const kernelMs = await time(() => opencl.evaluate(expr, pick(buffers), { context, out: deviceOut, precision }));
      const endToEndMs = await time(() => opencl.evaluate(expr, pick(arrays), { context, out: hostOut, precision }));
      const cpuMs = await time(() => evaluate(expr, pick(arrays), { backend: 'native', out: cpuOut }));
      const onDevice = await deviceOut.read(new Array_(Math.min(n, 1e5)));
      row[name] = {
        kernelMs: round(kernelMs),
        endToEndMs: round(endToEndMs),
        cpuMs: round(cpuMs),
        kernelSpeedupVsCpu: round(cpuMs / kernelMs),
        endToEndSpeedupVsCpu: round(cpuMs / endToEndMs),
        kernelGflops: name === 'poly50' ? round((100 * n) / kernelMs / 1e6) : undefined,
        maxRelativeErrorVsCpu: maxRelativeError(onDevice, cpuOut),
      };
    }
    const second = { ...pick2(buffers), t: deviceTmp };
    const chainMs = await time(async () => {
      await opencl.evaluate(chain.first, buffers, { context, out: deviceTmp, precision });
      await opencl.evaluate(chain.second, second, { context, out: deviceOut, precision });
    });
    const roundTripMs = await time(async () => {
      const t = await opencl.evaluate(chain.first, arrays, { context, precision });
      await opencl.evaluate(chain.second, { ...pick2(arrays), t }, { context, out: hostOut, precision });
    });
    const cpuChainMs = await time(() => {
      const t = evaluate(chain.first, arrays, { backend: 'native', out: cpuOut });
      evaluate(chain.second, { ...pick2(arrays), t }, { backend: 'native', out: hostOut });
    });
    row.chain = {
      deviceResidentMs: round(chainMs),
      hostRoundTripMs: round(roundTripMs),
      cpuMs: round(cpuChainMs),
      residentSpeedupVsCpu: round(cpuChainMs / chainMs),
      residentSpeedupVsRoundTrip: round(roundTripMs / chainMs),
    };
  } finally {
    for (const b of [...Object.values(buffers), deviceOut, deviceTmp]) b.release();
  }
  return { row, workMs };
}

const pick2 = (from) => ({ a: from.a, d: from.d });

function printRow(row) {
  const p = (r) =>
    `kernel ${r.kernelMs} ms, end to end ${r.endToEndMs} ms, CPU ${r.cpuMs} ms (x${r.kernelSpeedupVsCpu} kernel, ` +
    `x${r.endToEndSpeedupVsCpu} end to end, max rel err ${r.maxRelativeErrorVsCpu.toExponential(1)})`;
  const { inGBps, outGBps } = row.transfer;
  log(`  n=${row.n.toExponential(0)} ${row.precision}: transfer in ${inGBps} GB/s, out ${outGBps} GB/s`);
  log(`    light  ${p(row.light)}`);
  log(`    poly50 ${p(row.poly50)}, ${row.poly50.kernelGflops} GFLOP/s`);
  const { deviceResidentMs, hostRoundTripMs, cpuMs, residentSpeedupVsCpu } = row.chain;
  log(
    `    chain  resident ${deviceResidentMs} ms, host round trip ${hostRoundTripMs} ms, CPU ${cpuMs} ms ` +
      `(x${residentSpeedupVsCpu} vs CPU)`,
  );
}

const benchmarks = [];
for (const [k, device] of devices.entries()) {
  const result = { device: device.index, rows: [], skipped: [] };
  benchmarks.push(result);
  log(`\n## benchmark on device ${device.index} (${device.name})`);
  const context = opencl.createContext(device);
  const precisions = device.fp64 ? ['float32', 'float64'] : ['float32'];
  let lastCost = null; // { n, ms } of the previous size, to predict the next one (linear in n)
  for (const n of sizes) {
    const share = remainingMs() / (devices.length - k);
    const predicted = lastCost ? (lastCost.ms * n) / lastCost.n : 0;
    // 7 device buffers (4 inputs, out, chain temporary) of the widest type; about 10 host arrays.
    const widest = precisions.includes('float64') ? 8 : 4;
    const why =
      7 * n * widest > 0.8 * device.globalMemory
        ? `needs ${((7 * n * widest) / 2 ** 30).toFixed(1)} GiB of device memory`
        : n * widest > device.maxAllocation
          ? `a buffer of ${n * widest} bytes exceeds CL_DEVICE_MAX_MEM_ALLOC_SIZE`
          : 14 * n * 8 > 0.6 * os.totalmem()
            ? `needs ${((14 * n * 8) / 2 ** 30).toFixed(1)} GiB of host memory`
            : predicted > share
              ? `predicted ${(predicted / 1000).toFixed(0)} s, ${(share / 1000).toFixed(0)} s left for this device`
              : null;
    if (why) {
      log(`  n=${n.toExponential(0)} skipped: ${why}`);
      result.skipped.push({ n, why });
      continue;
    }
    const t0 = performance.now();
    const host = { a: data(n, 1), b: data(n, 2), c: data(n, 3), d: data(n, 4) };
    let ms = performance.now() - t0;
    for (const precision of precisions) {
      const { row, workMs } = await benchSize(context, n, precision, host);
      ms += 4 * workMs; // a warm-up and up to 3 timed runs per case once each run is long
      result.rows.push(row);
      printRow(row);
    }
    lastCost = { n, ms };
    writeResults({ ...found, testFiles, tests, benchmarks, complete: false });
  }
  context.release();
}

// ---- 4. Results ------------------------------------------------------------------------------------

function writeResults(results) {
  const dir = path.join(root, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'device-check.json');
  fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  return path.relative(root, file);
}

const ok = tests.every((t) => t.ok);
const seconds = (performance.now() - started) / 1000;
const file = writeResults({ ...found, testFiles, tests, benchmarks, seconds, ok, complete: true });
log(`\nresults: ${file}`);
for (const t of tests) for (const f of t.failures ?? []) log(`FAILED on device ${t.device}: ${f}`);
const perDevice = tests.map((t) => `device ${t.device} ${t.ok ? 'pass' : 'FAIL'}`).join(', ');
log(`device check: ${ok ? 'PASS' : 'FAIL'}: tests ${perDevice}; ${seconds.toFixed(0)} s`);
process.exit(ok ? 0 : 1);
