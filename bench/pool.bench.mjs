// Threads that help and what a task costs: a CPU-bound task on 2 workers vs 1, parallel.describe
// on the pure-TS kernel with 2 threads vs 1, and the per-task overhead of tiny tasks through
// Pool vs bare piscina vs worker_threads by hand (all with 2 threads, in one run).
import { Pool, parallel } from 'hotpath';
import { Piscina } from 'piscina';
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { report, uniformArray } from './harness.mjs';

const tasks = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pool-tasks.mjs');
const RANGES = Array.from({ length: 8 }, (_, i) => [i * 150_000, (i + 1) * 150_000]);
const TINY = 2000;
const N = 10_000_000;

const data = uniformArray(N, 7, { shared: true });

/** worker_threads by hand: N workers echoing messages, requests matched to replies by id. */
function handMadePool(threads) {
  const source = `const { parentPort } = require('node:worker_threads');
    parentPort.on('message', ({ id, x }) => parentPort.postMessage({ id, x }));`;
  const pending = new Map();
  const workers = Array.from({ length: threads }, () => {
    const w = new Worker(source, { eval: true });
    w.on('message', ({ id, x }) => {
      pending.get(id)(x);
      pending.delete(id);
    });
    return w;
  });
  let next = 0;
  return {
    run: (x) =>
      new Promise((resolve) => {
        const id = next++;
        pending.set(id, resolve);
        workers[id % threads].postMessage({ id, x });
      }),
    close: () => Promise.all(workers.map((w) => w.terminate())),
  };
}

const tinyAll = (submit) => () => Promise.all(Array.from({ length: TINY }, (_, i) => submit(i)));
const perTask = (ms) => `${((ms * 1000) / TINY).toFixed(1)} µs/task`;

export default async function run() {
  const one = new Pool({ filename: tasks, maxThreads: 1, minThreads: 1 });
  const two = new Pool({ filename: tasks, maxThreads: 2, minThreads: 2 });
  const primes = (pool) => () => Promise.all(RANGES.map(([a, b]) => pool.submit('countPrimes', b, a)));
  const cpu = await report(
    'pool-cpu',
    `CPU-bound pure-JS task (8 prime counts) and pure-TS parallel.describe over ${N.toExponential(0)} doubles, 1 vs ` +
      `2 threads`,
    [
      { label: 'primes: Pool, 1 thread', run: primes(one), repeat: 5 },
      { label: 'primes: Pool, 2 threads', run: primes(two), repeat: 5 },
      {
        label: 'describe js: parallel, 1 thread',
        run: () => parallel.describe(data, { backend: 'js', threads: 1 }),
        repeat: 5,
      },
      {
        label: 'describe js: parallel, 2 threads',
        run: () => parallel.describe(data, { backend: 'js', threads: 2 }),
        repeat: 5,
      },
    ],
    { baseline: 'primes: Pool, 1 thread' },
  );

  const piscina = new Piscina({ filename: tasks, maxThreads: 2, minThreads: 2, atomics: 'async' });
  const piscinaSync = new Piscina({ filename: tasks, maxThreads: 2, minThreads: 2 });
  const byHand = handMadePool(2);
  const overhead = await report(
    'pool-overhead',
    `${TINY} tiny tasks in flight at once, 2 threads: per-task cost`,
    [
      { label: 'worker_threads by hand', run: tinyAll(byHand.run), unit: perTask },
      { label: "bare piscina (atomics 'sync')", run: tinyAll((i) => piscinaSync.run(i)), unit: perTask },
      { label: "bare piscina (atomics 'async')", run: tinyAll((i) => piscina.run(i)), unit: perTask },
      { label: 'Pool.submit', run: tinyAll((i) => two.submit('echo', i)), unit: perTask },
      {
        label: 'Pool.map (chunksize 100)',
        run: () =>
          two
            .map(
              'echo',
              Array.from({ length: TINY }, (_, i) => i),
              { chunksize: 100 },
            )
            .toArray(),
        unit: perTask,
      },
    ],
    { baseline: 'worker_threads by hand' },
  );
  await Promise.all([one.close(), two.close(), piscina.close(), piscinaSync.close(), byHand.close(), parallel.close()]);
  return [cpu, overhead];
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
