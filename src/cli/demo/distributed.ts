// The distributed section of `npm run demo`: spawn gateways (channels, a Group map, moments merged
// from chunks computed in other processes), and the BullMQ cluster when REDIS_URL is set.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, Moments, type MomentsJSON } from '../../moments/index.js';
import { ClusterExecutor } from '../../distributed/cluster.js';
import { Group } from '../../distributed/group.js';
import { countPrimes } from '../../distributed/example-tasks.js';

const tasks = path.join(__dirname, '..', '..', 'distributed', 'example-tasks.js');
const cli = path.join(__dirname, '..', 'main.js');
const PRIME_LIMIT = 50_000;
const TASKS = 200;

function ms(t0: number): string {
  return `${(performance.now() - t0).toFixed(1).padStart(8)} ms`;
}

async function clusterPart(url: string): Promise<void> {
  const queue = `hotpath-demo-${process.pid}`;
  const workers = [0, 1].map(() =>
    spawn(process.execPath, [cli, 'worker', '--redis', url, '--queue', queue, '--module', tasks], {
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  const ready = workers.map(
    (w) =>
      new Promise<void>((resolve, reject) => {
        let output = '';
        w.stderr.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('serving queue')) resolve();
        });
        w.once('exit', (code) => reject(new Error(`hotpath worker exited with code ${code}: ${output.trim()}`)));
      }),
  );
  const executor = new ClusterExecutor({ connection: url, queue, module: tasks });
  try {
    await Promise.all(ready);
    const t0 = performance.now();
    const counts = await executor.map<number>('countPrimes', Array(TASKS).fill(PRIME_LIMIT)).toArray();
    console.log(
      `  cluster    ${ms(t0)}  ${TASKS} jobs on 2 \`hotpath worker\` processes via BullMQ (${counts[0]} primes each)`,
    );
  } finally {
    await executor.close();
    for (const w of workers) w.kill('SIGTERM');
  }
}

export async function demoSection(): Promise<void> {
  console.log('\n## Distributed: execnet-style gateways and a BullMQ cluster');
  const group = await Group.open(['spawn', 'spawn']);
  try {
    const [a, b] = group.gateways;
    console.log(`  2 spawn gateways: pids ${a.info?.pid} and ${b.info?.pid} (${a.info?.node})`);

    let t0 = performance.now();
    for (let i = 0; i < TASKS; i++) countPrimes(PRIME_LIMIT);
    console.log(`  in-process ${ms(t0)}  ${TASKS} x countPrimes(${PRIME_LIMIT}) one after another`);
    t0 = performance.now();
    await group.map(tasks, 'countPrimes', Array(TASKS).fill(PRIME_LIMIT)).toArray();
    console.log(`  Group.map  ${ms(t0)}  the same tasks spread over the 2 gateways`);

    const data = Float64Array.from({ length: 2_000_000 }, (_, i) => Math.sin(i) * 100 + 1e6);
    t0 = performance.now();
    const chunks = [0, 1, 2, 3].map((k) => data.subarray(k * 500_000, (k + 1) * 500_000));
    const partials = await group.map<MomentsJSON>(tasks, 'momentsOf', chunks).toArray();
    const merged = partials.reduce((m, p) => m.merge(p), new Moments());
    const local = describe(data);
    console.log(
      `  moments    ${ms(t0)}  4 chunks of 5e5 doubles sent as Float64Arrays, merged: mean ${merged.mean.toFixed(6)} ` +
        `(local ${local.mean.toFixed(6)}), variance ${merged.variance().toFixed(6)} (local ` +
        `${local.variance.toFixed(6)})`,
    );

    const error = (await group.submit(tasks, 'noSuchTask').catch((e: unknown) => e)) as Error;
    console.log(`  errors come back from the remote side: ${error.message}`);
  } finally {
    await group.close();
  }
  const url = process.env.REDIS_URL;
  if (url) await clusterPart(url);
  else
    console.log(
      '  cluster    skipped: set REDIS_URL (e.g. redis://127.0.0.1:6379) to run 2 `hotpath worker` processes on BullMQ',
    );
}
