// Memory profiling costs: one sample (what profileMemory and `mprof run` read per tick) against
// process.memoryUsage() and the pidusage package, and profileMemory's overhead around a workload.
import { backend, describe, profileMemory } from 'hotpath';
import { createRequire } from 'node:module';
import pidusage from 'pidusage';
import { report } from './harness.mjs';

const require = createRequire(import.meta.url);
// Internal sampling functions, loaded from the build like the moments bench loads the addon.
const { readFigures } = require('../dist/memprof/process-memory.js');
const { processTreeRss } = require('../dist/memprof/record.js');

const SAMPLES = 1000;
const repeat = (fn) => async () => {
  for (let i = 0; i < SAMPLES; i++) await fn();
};
const data = Float64Array.from({ length: 2_000_000 }, (_, i) => Math.sin(i));
const workload = () => describe(data, { backend });

export default async () => [
  await report(
    'memprof-sample',
    `${SAMPLES} memory samples of this process`,
    [
      { label: 'process.memoryUsage.rss()', run: repeat(() => process.memoryUsage.rss()) },
      { label: 'process.memoryUsage()', run: repeat(() => process.memoryUsage()) },
      { label: 'profileMemory sample (+ nativeMemory)', run: repeat(readFigures) },
      { label: 'mprof run tick: process tree RSS (/proc)', run: repeat(() => processTreeRss(process.pid)), repeat: 3 },
      { label: 'pidusage(pid) (one process)', run: repeat(() => pidusage(process.pid)), repeat: 3 },
    ],
    { baseline: 'pidusage(pid) (one process)' },
  ),
  await report(
    'memprof-overhead',
    `profileMemory around describe() over 2e6 doubles (${backend} backend)`,
    [
      { label: 'describe() alone', run: workload },
      { label: 'profileMemory({ gc: false })', run: () => profileMemory(workload, { gc: false }) },
      { label: 'profileMemory() (gc before and after)', run: () => profileMemory(workload) },
      { label: 'profileMemory({ sampling: true })', run: () => profileMemory(workload, { sampling: true }) },
    ],
    { baseline: 'describe() alone' },
  ),
];
