import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe as suite, expect, it } from 'vitest';
import { AbortError, BrokenPoolError, Future, Pool, asCompleted, wait, type PoolProgress } from 'hotpath';
import { compileFixture } from './pool-fixture.js';

let tasks: string;
let pool: Pool;

beforeAll(() => {
  tasks = compileFixture('pool-tasks.ts');
  // Both threads up front: ordering assertions must not depend on how fast a second worker starts.
  pool = new Pool({ filename: tasks, maxThreads: 2, minThreads: 2 });
});
afterAll(() => pool.close());

/** Waits (polling) until `condition()` holds; false if `ms` pass first. */
async function eventually(condition: () => boolean, ms = 10_000): Promise<boolean> {
  for (const deadline = Date.now() + ms; !condition(); await new Promise((r) => setTimeout(r, 5))) {
    if (Date.now() >= deadline) return false;
  }
  return true;
}

/** Resolves true once flag[0] becomes 1, or false after `ms`. */
function flagSet(flag: Int32Array, ms: number): Promise<boolean> {
  return eventually(() => Atomics.load(flag, 0) === 1, ms);
}

suite('Pool.submit', () => {
  it('runs named exports in workers and returns Futures', async () => {
    const futures = [pool.submit<number>('add', 2, 3), pool.submit<number>('square', 9)];
    expect(futures[0]).toBeInstanceOf(Future);
    expect(await Promise.all(futures)).toEqual([5, 81]);
    expect(futures.every((f) => f.done && f.state === 'fulfilled')).toBe(true);
  });

  it('works with asCompleted and wait', async () => {
    const slow = pool.submit<string>('delayed', 'slow', 300);
    const fast = pool.submit<string>('delayed', 'fast', 1);
    const order: string[] = [];
    for await (const { future } of asCompleted([slow, fast])) order.push(future.result());
    expect(order).toEqual(['fast', 'slow']);
    const first = await wait([pool.submit('forever'), pool.submit('add', 1, 1)], { returnWhen: 'FIRST_COMPLETED' });
    expect([...first.done][0].result()).toBe(2);
    for (const f of first.notDone) expect(f.cancel()).toBe(true);
  });

  it('rejects with the worker error: class, name, message, stack and code', async () => {
    const typeErr = (await pool.submit('fail', 'type', 'wrong type').catch((e: unknown) => e)) as Error;
    expect(typeErr).toBeInstanceOf(TypeError);
    expect(typeErr.message).toBe('wrong type');
    expect(typeErr.stack).toContain('pool-tasks.js');
    await expect(pool.submit('fail', 'range', 'out of range')).rejects.toThrow(RangeError);
    const custom = (await pool
      .submit('fail', 'custom', 'over quota')
      .catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect([custom.name, custom.message, custom.code]).toEqual(['QuotaError', 'over quota', 'E_QUOTA']);
    await expect(pool.submit('fail', 'string', 'plain')).rejects.toThrow('non-Error thrown: plain');
    await expect(pool.submit('nope')).rejects.toThrow(/'nope' is not a function exported by .*pool-tasks\.js/);
  });

  it('cancels queued and running tasks with an AbortError (cancel, signal, timeout)', async () => {
    const running = pool.submit('forever');
    const running2 = pool.submit('forever');
    const queued = pool.submit<number>('add', 1, 2);
    expect(await eventually(() => running.running && running2.running)).toBe(true);
    expect(queued.running).toBe(false);
    expect(queued.cancel()).toBe(true);
    await expect(queued).rejects.toThrow(AbortError);
    expect(running.cancel()).toBe(true);
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    const controller = new AbortController();
    const bySignal = pool.submitWith('forever', [], { signal: controller.signal });
    controller.abort();
    await expect(bySignal).rejects.toMatchObject({ name: 'AbortError' });
    running2.cancel();
    const timing = pool.submitWith('forever', [], { timeout: 30 });
    const timedOut = (await timing.catch((e: unknown) => e)) as Error;
    expect(timing.state).toBe('cancelled');
    expect(timedOut).toBeInstanceOf(AbortError);
    expect(timedOut.message).toMatch(/task 'forever' timed out after 30 ms/);
    expect((timedOut.cause as Error).name).toBe('TimeoutError');
    // The pool replaced the stopped workers and keeps working.
    expect(await pool.submit('add', 20, 22)).toBe(42);
  });

  it('moves transferred buffers and shares SharedArrayBuffers', async () => {
    const bytes = Uint8Array.from([1, 2, 3, 250]);
    const sum = pool.submitWith<number>('byteSum', [bytes], { transfer: [bytes.buffer] });
    expect(bytes.byteLength).toBe(0);
    expect(await sum).toBe(256);
    const ramp = await pool.submit<Float64Array>('makeRamp', 5);
    expect(Array.from(ramp)).toEqual([0, 1, 2, 3, 4]);
    // Both workers may have made ramps; the one that made ours has a detached copy.
    const shared = new Int32Array(new SharedArrayBuffer(16));
    expect(await pool.submit('fillShared', shared.subarray(1, 3), 7)).toBe(2);
    expect(Array.from(shared)).toEqual([0, 7, 7, 0]);
  });

  it("lets a task's pending timers run between tasks (atomics: 'async'), unlike atomics: 'sync'", async () => {
    const flag = new Int32Array(new SharedArrayBuffer(4));
    expect(await pool.submit('leaveTimer', flag, 20)).toBe('returned');
    expect(await flagSet(flag, 2000)).toBe(true);
    // piscina's default blocks the idle worker in Atomics.wait: the timer only fires once a later
    // task lets the worker's event loop turn.
    const blocking = new Pool({ filename: tasks, maxThreads: 1, atomics: 'sync' });
    try {
      const flag2 = new Int32Array(new SharedArrayBuffer(4));
      await blocking.submit('leaveTimer', flag2, 20);
      expect(await flagSet(flag2, 300)).toBe(false);
      await blocking.submit('delayed', 0, 50);
      expect(await flagSet(flag2, 0)).toBe(true);
    } finally {
      await blocking.close();
    }
  });

  it('emits progress and reports stats', async () => {
    const events: PoolProgress[] = [];
    const local = new Pool({ filename: tasks, maxThreads: 2 });
    local.on('progress', (p: PoolProgress) => events.push(p));
    const futures = [local.submit('add', 1, 1), local.submit('fail', 'type', 'x'), local.submit('forever')];
    futures[2].cancel();
    await Promise.allSettled(futures);
    await new Promise((r) => setTimeout(r, 0));
    expect(events.at(-1)).toEqual({ total: 3, completed: 3, failed: 1, cancelled: 1 });
    const stats = local.stats();
    expect(stats.completed).toBeGreaterThanOrEqual(2);
    expect(stats.runTime.max).toBeGreaterThanOrEqual(stats.runTime.p50);
    expect(stats.utilization).toBeGreaterThanOrEqual(0);
    expect(stats.queueSize).toBe(0);
    await local.close();
  });
});

suite('Pool.map', () => {
  it('maps in order, with chunks, over arrays and async iterables', async () => {
    const xs = Array.from({ length: 50 }, (_, i) => i);
    const progress: number[] = [];
    const squares = await pool
      .map<number, number>('square', xs, { chunksize: 7, onProgress: (p) => progress.push(p.completed) })
      .toArray();
    expect(squares).toEqual(xs.map((x) => x * x));
    expect(progress.at(-1)).toBe(50);
    async function* gen() {
      for (let i = 0; i < 5; i++) yield i;
    }
    expect(await pool.map('square', gen()).toArray()).toEqual([0, 1, 4, 9, 16]);
    expect(await pool.map('square', []).toArray()).toEqual([]);
  });

  it('unordered map yields every result; a failing item stops the iteration with its error', async () => {
    const got = await pool.map<number, number>('square', [1, 2, 3, 4], { ordered: false }).toArray();
    expect(got.sort((a, b) => a - b)).toEqual([1, 4, 9, 16]);
    await expect(pool.map('fail', ['type'], {}).toArray()).rejects.toThrow(TypeError);
  });

  it("the caller's signal cancels running chunks; the iteration throws an AbortError", async () => {
    const controller = new AbortController();
    const progress: PoolProgress[] = [];
    const local = new Pool({ filename: tasks, maxThreads: 2, minThreads: 2 });
    local.on('progress', (p: PoolProgress) => progress.push(p));
    const iteration = local.map('forever', [1, 2, 3], { signal: controller.signal }).toArray();
    expect(await eventually(() => local.stats().threads === 2 && progress.length === 0)).toBe(true);
    setTimeout(() => controller.abort(), 50);
    await expect(iteration).rejects.toBeInstanceOf(AbortError);
    expect(await eventually(() => progress.at(-1)?.cancelled === progress.at(-1)?.total)).toBe(true);
    expect(await local.submit('add', 1, 1)).toBe(2);
    await local.close();
  });

  it('rejects bad arguments', () => {
    expect(() => pool.map('square', 5 as never)).toThrow(/source must be an iterable/);
    expect(() => pool.map('square', [], { chunksize: 0 })).toThrow(RangeError);
    expect(() => pool.map('square', [], { onProgress: 1 as never })).toThrow(TypeError);
    expect(() => pool.map(5 as never, [])).toThrow(TypeError);
  });
});

suite('Pool faults and lifecycle', () => {
  it('a worker that exits rejects only its task; the pool replaces it', async () => {
    const local = new Pool({ filename: tasks, maxThreads: 1 });
    const dying = local.submit('exit', 3);
    const next = local.submit('add', 2, 2);
    await expect(dying).rejects.toThrow(BrokenPoolError);
    await expect(dying).rejects.toThrow(/task 'exit' terminated abruptly with exit code 3/);
    expect(local.broken).toBe(false);
    expect(await next).toBe(4);
    await local.close();
  });

  it('a task exceeding resourceLimits rejects; the pool keeps working', () => {
    // In its own process with concurrent recompilation off: Node 20 can abort a whole process when a
    // worker dies of OOM while a background TurboFan job for that worker is in flight
    // (node_platform.cc "Assertion failed: (data.first) != nullptr"), a Node bug, not the pool's.
    const script = `
      const { Pool } = require('hotpath');
      const local = new Pool({
        filename: ${JSON.stringify(tasks)},
        maxThreads: 1,
        resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
      });
      (async () => {
        const error = await local.submit('hog').catch((e) => e);
        const after = await local.submit('add', 1, 2);
        await local.close();
        console.log(JSON.stringify({ code: error.code, after }));
      })();`;
    const child = spawnSync(process.execPath, ['--no-concurrent-recompilation', '-e', script], {
      encoding: 'utf8',
      cwd: path.join(__dirname, '..'),
    });
    expect(child.status, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout)).toEqual({ code: 'ERR_WORKER_OUT_OF_MEMORY', after: 3 });
  });

  it('close() waits for queued work; close({ wait: false }) rejects it; submit after close throws', async () => {
    const local = new Pool({ filename: tasks, maxThreads: 1 });
    const queued = [local.submit('delayed', 'a', 30), local.submit('delayed', 'b', 1)];
    await local.close();
    expect(queued.map((f) => f.result())).toEqual(['a', 'b']);
    expect(() => local.submit('add', 1, 1)).toThrow(/the pool is closed/);

    const abrupt = new Pool({ filename: tasks, maxThreads: 1 });
    const victims = [abrupt.submit('forever'), abrupt.submit('add', 1, 1)];
    await new Promise((r) => setTimeout(r, 50));
    await abrupt.close({ wait: false });
    const errors = (await Promise.allSettled(victims)).map((s) =>
      s.status === 'rejected' ? (s.reason as Error) : null,
    );
    expect(errors.every((e) => e?.name === 'AbortError')).toBe(true);
    expect(victims.every((f) => f.cancelled)).toBe(true);
    expect(errors[1]?.message).toMatch(/pool closed with \{ wait: false \} before task 'add' started/);
  });

  it('maxQueue bounds queued tasks: the overflowing submit rejects', async () => {
    const local = new Pool({ filename: tasks, maxThreads: 1, maxQueue: 1 });
    const running = local.submit('forever');
    expect(await eventually(() => running.running)).toBe(true);
    const queued = local.submit('add', 1, 1);
    const overflow = local.submit('add', 2, 2);
    running.cancel();
    await expect(overflow).rejects.toThrow(/the task queue is full \(maxQueue 1\): task 'add' was not queued/);
    expect(await queued).toBe(2);
    await local.close();
  });

  it('await using closes the pool at the end of the block', async () => {
    let outer: Pool;
    {
      await using scoped = new Pool({ filename: tasks, maxThreads: 1 });
      outer = scoped;
      expect(await scoped.submit('add', 1, 1)).toBe(2);
    }
    expect(outer.closed).toBe(true);
  });

  it('rejects invalid options with TypeError/RangeError', () => {
    expect(() => new Pool({ filename: tasks, maxThreads: 0 })).toThrow(RangeError);
    expect(() => new Pool({ filename: tasks, maxThreads: 2, minThreads: 3 })).toThrow(
      /minThreads must be an integer in \[0, 2\]/,
    );
    expect(() => new Pool({ filename: tasks, atomics: 'fast' as never })).toThrow(RangeError);
    expect(() => new Pool({ filename: tasks, timeout: -1 })).toThrow(RangeError);
    expect(() => new Pool({})).toThrow(/exactly one of filename/);
    expect(() => new Pool({ filename: 42 as never })).toThrow(TypeError);
    expect(() => new Pool({ filename: path.join(os.tmpdir(), 'no-such-tasks.js') })).toThrow(/task module not found/);
    expect(() => new Pool(undefined as never)).toThrow(/exactly one of filename/);
    expect(() => new Pool({ module: 'no-such-package-for-hotpath' })).toThrow(
      /cannot resolve module 'no-such-package-for-hotpath'/,
    );
    const byModule = new Pool({ module: path.relative(process.cwd(), tasks).replace(/^(?!\.)/, './'), minThreads: 0 });
    expect(byModule.taskModule).toBe(tasks);
    void byModule.close();
    expect(() => pool.submit('' as never)).toThrow(TypeError);
    expect(() => pool.submitWith('add', 1 as never)).toThrow(/args must be an array/);
    expect(() => pool.submitWith('add', [], { signal: {} as never })).toThrow(/signal must be an AbortSignal/);
    expect(() => pool.submitWith('add', [], { transfer: 'x' as never })).toThrow(TypeError);
  });

  it('maps a .ts task module path to its build output through tsconfig.json', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-ts-'));
    fs.mkdirSync(path.join(root, 'src'));
    fs.mkdirSync(path.join(root, 'lib'));
    fs.writeFileSync(
      path.join(root, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { rootDir: 'src', outDir: 'lib' } }),
    );
    fs.writeFileSync(path.join(root, 'src', 'jobs.ts'), 'export const twice = (x: number) => 2 * x;\n');
    expect(() => new Pool({ filename: path.join(root, 'src', 'jobs.ts') })).toThrow(
      /compiles to .*lib.*jobs\.js, which does not exist/,
    );
    fs.writeFileSync(path.join(root, 'lib', 'jobs.js'), 'exports.twice = (x) => 2 * x;\n');
    const local = new Pool({ filename: path.join(root, 'src', 'jobs.ts'), maxThreads: 1 });
    expect(local.taskModule).toBe(path.join(root, 'lib', 'jobs.js'));
    expect(await local.submit('twice', 21)).toBe(42);
    await local.close();
    // A module that fails to load rejects every task with its load error; the pool stays usable to close.
    fs.writeFileSync(path.join(root, 'lib', 'broken.js'), "throw new SyntaxError('bad task module');\n");
    const broken = new Pool({ filename: path.join(root, 'lib', 'broken.js'), maxThreads: 1 });
    await expect(broken.submit('anything')).rejects.toThrow(/bad task module/);
    await expect(broken.submit('anything')).rejects.toThrow(SyntaxError);
    await broken.close();
    // An ES module task file, given as a file: URL.
    fs.writeFileSync(path.join(root, 'lib', 'esm.mjs'), 'export function thrice(x) { return 3 * x; }\n');
    const esm = new Pool({ filename: pathToFileURL(path.join(root, 'lib', 'esm.mjs')), maxThreads: 1 });
    expect(await esm.submit('thrice', 5)).toBe(15);
    await esm.close();
    fs.rmSync(root, { recursive: true });
  });
});
