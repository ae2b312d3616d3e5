// 1000 CPU tasks (~5 ms each, countPrimes) over the local Pool (2 threads), 2 spawn gateways
// (Group) and the BullMQ cluster with 2 `hotpath worker` processes: throughput. Then 1000 empty
// tasks, whose wall time is all per-task overhead. Ratios are to the local Pool. The cluster runs against REDIS_URL,
// else a throwaway redis-server if one is installed, else it is reported as skipped.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClusterExecutor, Group, Pool } from 'hotpath';
import { report } from './harness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tasks = path.join(root, 'dist', 'distributed', 'example-tasks.js');
const cli = path.join(root, 'dist', 'cli', 'main.js');
const TASKS = 1000;
const LIMIT = 100_000;
const { countPrimes } = await import(tasks);

function waitForLine(child, text) {
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk) => {
      output += chunk.toString();
      if (output.includes(text)) resolve(child);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`${path.basename(child.spawnfile)} exited with code ${code}: ${output}`)),
    );
  });
}

/** REDIS_URL, or a redis-server started here on a free loopback port; null with a reason otherwise. */
async function redis() {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, server: null };
  const binary = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => fs.existsSync(p));
  if (!binary) return { skip: 'set REDIS_URL or install redis-server' };
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  const server = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await waitForLine(server, 'Ready to accept connections');
  return { url: `redis://127.0.0.1:${port}`, server };
}

function timeOneTask() {
  for (let i = 0; i < 20; i++) countPrimes(LIMIT);
  const t0 = performance.now();
  for (let i = 0; i < 50; i++) countPrimes(LIMIT);
  return (performance.now() - t0) / 50;
}

export default async function run() {
  const taskMs = timeOneTask();
  const pool = new Pool({ filename: tasks, maxThreads: 2, minThreads: 2 });
  const group = await Group.open(['spawn', 'spawn']);
  const cluster = await redis();
  const queue = `hotpath-bench-${process.pid}`;
  let workers = [];
  let executor = null;
  if (!cluster.skip) {
    workers = [0, 1].map(() =>
      spawn(process.execPath, [cli, 'worker', '--redis', cluster.url, '--queue', queue, '--module', tasks], {
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
    );
    await Promise.all(workers.map((w) => waitForLine(w, 'serving queue')));
    executor = new ClusterExecutor({ connection: cluster.url, queue, module: tasks });
  }
  const cases = (limit) => {
    const items = Array(TASKS).fill(limit);
    const unit = (ms) =>
      `${((TASKS / ms) * 1000).toFixed(0)} tasks/s, ${((ms / TASKS) * 1000).toFixed(0)} µs wall per task`;
    return [
      { label: 'local Pool (2 threads)', run: () => pool.map('countPrimes', items).toArray(), unit },
      { label: '2 spawn gateways (Group)', run: () => group.map(tasks, 'countPrimes', items).toArray(), unit },
      {
        label: 'cluster, 2 workers (BullMQ)',
        run: () => executor.map('countPrimes', items).toArray(),
        unit,
        skip: cluster.skip,
      },
    ];
  };
  try {
    const work = await report(
      'distributed',
      `${TASKS} x countPrimes(${LIMIT}) (${taskMs.toFixed(2)} ms each in-process), 2 workers each way`,
      cases(LIMIT),
      { baseline: 'local Pool (2 threads)', repeat: 3 },
    );
    const overhead = await report(
      'distributed-overhead',
      `${TASKS} empty tasks (countPrimes(2)): wall per task = per-task overhead`,
      cases(2),
      {
        baseline: 'local Pool (2 threads)',
        repeat: 3,
      },
    );
    return { work, overhead };
  } finally {
    await executor?.close();
    await Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve).kill('SIGTERM'))));
    cluster.server?.kill('SIGKILL');
    await Promise.all([pool.close(), group.close()]);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
